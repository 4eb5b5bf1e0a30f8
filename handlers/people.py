"""Pre-handler (group -1): decide whether an update is ours and who sent it."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.context import BotContext
from bot.people.identity import TelegramProfile, recognize, recognize_known
from bot.ui.i18n import t
from handlers.render import answer


async def recognize_sender(update: Update, context: BotContext) -> None:
    chat, user = update.effective_chat, update.effective_user
    # Channels, and groups other than the staff chat, are not places we talk in:
    # ignore their updates on purpose rather than answering strangers' chats.
    if user is None or user.is_bot:
        raise ApplicationHandlerStop
    if update.inline_query is not None and chat is None:
        # Inline mode (handlers/inline.py) answers anyone, from any chat, with what the
        # catalogue shows everyone: nobody is recognised, nothing is stored for them.
        return
    if chat is None:
        raise ApplicationHandlerStop
    if chat.type != ChatType.PRIVATE and not await _staff_chat_update(update, context, chat.id):
        raise ApplicationHandlerStop
    # Editing a sent message does not send it again: a command, an answer or a reply was
    # handled when it arrived, so edits are ignored on purpose.
    if update.edited_message is not None:
        raise ApplicationHandlerStop
    settings = context.settings
    # Most updates come from someone seen seconds ago: no database at all (the entry is
    # dropped whenever something about them changes: bot/people/senders.py) ...
    now = context.now()
    person = context.runtime.senders.get(user.id, now)
    if person is None:
        # ... or minutes ago: a read, no write lock.
        async with context.db() as session:
            person = await recognize_known(session, user.id, admin_ids=settings.admin_ids)
    if person is None:
        async with context.db(write=True) as session:
            person = await recognize(
                session,
                TelegramProfile(
                    id=user.id,
                    first_name=user.first_name,
                    last_name=user.last_name,
                    username=user.username,
                    language_code=user.language_code,
                ),
                default_language=settings.default_language,
                admin_ids=settings.admin_ids,
            )
    context.runtime.senders.put(person, now)
    context.person = person
    query = update.callback_query
    if query is not None and not query.data:
        # PTB lets a button without data match every pattern; no button of ours has none.
        await answer(update, context, t(context.person.language, "button.stale"))
        raise ApplicationHandlerStop


async def _staff_chat_update(update: Update, context: BotContext, chat_id: int) -> bool:
    """A group update to act on: one from the staff chat that is a message or a button.
    What the staff chat's updates say about it (Telegram moved it to a new id, the bot
    was removed or added back, someone wrote there) is learned on the way."""
    member, message = update.my_chat_member, update.message
    moved_from = message.migrate_from_chat_id if message else None
    moved_to = message.migrate_to_chat_id if message else None
    ours = await context.staff_chat.on_update(
        chat_id,
        member_status=member.new_chat_member.status if member else None,
        migrated_from=moved_from,
        migrated_to=moved_to,
    )
    return ours and member is None and moved_from is None and moved_to is None


def handlers() -> list[BaseHandler[Update, BotContext, None]]:
    return [TypeHandler(Update, recognize_sender)]
