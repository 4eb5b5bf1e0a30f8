"""The one opening of every command and button: parse the callback data, ask the
permission path (bot/access.py) for acts on no particular thing, and answer refusals,
stale buttons and domain errors the same way everywhere.

- A button whose data does not parse, whose thing is gone, or that its presser may not
  use (bot.access.Refused) gets the stale-button note, and its message is left as it is
  (in the staff group, a card must not turn into someone's menu).
- A domain refusal (a FieldError with its own words: "that step is not open") is shown as
  an alert on the button, or as a reply to a command.
- A command the role does not allow says who may use it: commands are public knowledge.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from html import escape
from typing import Any

from telegram import Update

from bot.context import BotContext
from bot.people import roles as access
from bot.people.roles import Act
from bot.ui import screens as views
from bot.ui.callbacks import Callback, parse
from bot.ui.errors import FieldError
from bot.ui.i18n import t
from handlers.render import answer, reply

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
ButtonHandler = Callable[[Update, BotContext, Callback], Coroutine[Any, Any, None]]


async def refuse_button(update: Update, context: BotContext) -> None:
    await answer(update, context, t(context.lang, "button.stale"))


def button(act: Act | None = None) -> Callable[[ButtonHandler], Handler]:
    """A callback handler that gets parsed data; `act` is an act on no particular thing
    that the presser's role must allow (acts on one thing are checked by the service)."""

    def wrap(handler: ButtonHandler) -> Handler:
        @functools.wraps(handler)
        async def run(update: Update, context: BotContext) -> None:
            query = update.callback_query
            data = parse(query.data if query else None)
            try:
                if data is None or (act is not None and not access.allowed(context.sender, act)):
                    raise access.Refused()
                await handler(update, context, data)
            except access.Refused:
                await refuse_button(update, context)
            except FieldError as refusal:
                values = {k: escape(str(v)) for k, v in refusal.values.items()}
                await answer(update, context, t(context.lang, refusal.key, **values), alert=True)
            finally:
                if query is not None:  # the answer travelled alongside the edit
                    await context.runtime.answers.settle(query.id)

        return run

    return wrap


def command(act: Act | None = None) -> Callable[[Handler], Handler]:
    """A command handler; `act` is what the sender's role must allow."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(update: Update, context: BotContext) -> None:
            person = context.sender
            if act is not None and not access.allowed(person, act):
                await reply(update, views.with_menu(person, access.refusal_key(act)))
                return
            try:
                await handler(update, context)
            except access.Refused:
                await reply(update, views.with_menu(person, "access.gone"))
            except FieldError as refusal:
                values = {k: escape(str(v)) for k, v in refusal.values.items()}
                await reply(update, views.with_menu(person, refusal.key, **values))

        return run

    return wrap
