"""Rendering form steps: the question with its buttons, and the check before saving."""

from __future__ import annotations

import inspect
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.callbacks import cb
from bot.forms import Ask, Confirm, Step
from bot.i18n import t
from bot.views import Screen, button

CHOICE_LABEL_CHARS = 40


async def render(session: AsyncSession, lang: str, step: Step) -> Screen:
    spec = step.spec
    title = f"<b>{t(lang, spec.title)}</b>"
    error = ""
    if step.error is not None:
        values = {k: escape(str(v)) for k, v in step.error.values.items()}
        error = "\n\n⚠️ " + t(lang, step.error.key, **values)
    if isinstance(step, Confirm):
        summary = spec.summary(lang, step.data)
        if inspect.isawaitable(summary):
            summary = await summary
        rows = [
            [button(lang, "form.save", cb("f", "save"))],
            [
                button(lang, "form.change", cb("f", "change")),
                button(lang, "form.cancel", cb("f", "cancel")),
            ],
        ]
        text = f"{title}\n{t(lang, 'form.check')}\n\n{summary}{error}"
        return Screen(text, InlineKeyboardMarkup(rows))
    return await _ask(session, lang, step, title, error)


async def _ask(session: AsyncSession, lang: str, step: Ask, title: str, error: str) -> Screen:
    spec, field = step.spec, step.field
    names = [f.name for f in spec.fields]
    position = names.index(field.name) + 1
    lines = [title]
    if len(names) > 1:
        lines.append(t(lang, "form.step", n=position, total=len(names)))
    lines.append("")
    lines.append(t(lang, field.prompt))
    current = step.data.get("_current")
    if current:
        lines.append(t(lang, "form.current", value=escape(str(current)[:500])))
    hints = []
    if field.optional:
        hints.append(t(lang, "form.hint_skip"))
    hints.append(t(lang, "form.hint_cancel"))
    lines.append("\n<i>" + " ".join(hints) + "</i>")
    rows: list[list[InlineKeyboardButton]] = []
    if field.choices is not None:
        options = await field.choices(session, lang, step.data)
        pair: list[InlineKeyboardButton] = []
        for label, value in options:
            short = (
                label if len(label) <= CHOICE_LABEL_CHARS else label[: CHOICE_LABEL_CHARS - 1] + "…"
            )
            pair.append(
                InlineKeyboardButton(short, callback_data=cb("f", "pick", field.name, value))
            )
            if len(pair) == 2:
                rows.append(pair)
                pair = []
        if pair:
            rows.append(pair)
    last = []
    if field.optional:
        last.append(button(lang, "form.skip", cb("f", "skip", field.name)))
    last.append(button(lang, "form.cancel", cb("f", "cancel")))
    rows.append(last)
    text = "\n".join(lines) + error
    if field.accepts_contact:
        share = KeyboardButton(t(lang, "profile.share_phone"), request_contact=True)
        keyboard = ReplyKeyboardMarkup([[share]], resize_keyboard=True, one_time_keyboard=True)
        return Screen(text, reply_keyboard=keyboard)
    previous = names.index(field.name) - 1
    if previous >= 0 and spec.fields[previous].accepts_contact:
        # The share-contact keyboard must go; a message carries one keyboard only.
        return Screen(text, reply_keyboard=ReplyKeyboardRemove())
    return Screen(text, InlineKeyboardMarkup(rows))


def change_menu(lang: str, step: Confirm) -> Screen:
    rows = [
        [InlineKeyboardButton(t(lang, f"field.{f.name}"), callback_data=cb("f", "edit", f.name))]
        for f in step.spec.fields
        if f.name != "value"
    ]
    rows.append([button(lang, "btn.back", cb("f", "review"))])
    return Screen(t(lang, "form.change_which"), InlineKeyboardMarkup(rows))
