"""Rendering form steps: the question with its buttons, and the check before saving."""

from __future__ import annotations

from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.forms.engine import Ask, Confirm, Step
from bot.ui.callbacks import cb
from bot.ui.i18n import t
from bot.ui.screens import Screen, button
from bot.ui.text import CLIP_FIRST, Html, Part, Plain, bold, clip_text, italic, tr

CHOICE_LABEL_CHARS = 40


def render(lang: str, step: Step) -> Screen:
    """A step as a screen: pure, its buttons were resolved by the engine."""
    spec = step.spec
    title = bold(t(lang, spec.title))
    error = Html()
    if step.error is not None:
        values: dict[str, Part] = {k: Plain(str(v)) for k, v in step.error.values.items()}
        error = Html("\n\n⚠️ ", tr(lang, step.error.key, **values))
    if isinstance(step, Confirm):
        summary = spec.summary(lang, step.data)
        rows = [
            [button(lang, spec.verb, cb("f", "save"))],
            [
                button(lang, "form.change", cb("f", "change")),
                button(lang, "form.cancel", cb("f", "cancel")),
            ],
        ]
        # What was typed is shown whole when it fits (the forms' limits see to it for
        # single texts); a check screen of many long answers clips the longest.
        check = "form.check_send" if spec.verb == "form.send" else "form.check"
        text = Html(title, "\n", t(lang, check), "\n\n", summary, error).fit()
        return Screen(text, InlineKeyboardMarkup(rows))
    screen = _ask(lang, step, title, error)
    if step.error is not None and not step.error.values:  # a toast for a pressed button
        screen.extra["error"] = step.error.key
    return screen


def _ask(lang: str, step: Ask, title: Html, error: Html) -> Screen:
    spec, field = step.spec, step.field
    names = [f.name for f in spec.fields]
    text = Html(_question(lang, step, title, names), error).fit()
    if field.accepts_contact:
        rows = [[KeyboardButton(t(lang, "profile.share_phone"), request_contact=True)]]
        if field.optional:  # its label comes back as text, taken as Skip (handlers/forms)
            rows.append([KeyboardButton(t(lang, "form.skip"))])
        keyboard = ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)
        return Screen(text, reply_keyboard=keyboard)
    inline = InlineKeyboardMarkup(_buttons(lang, step))
    previous = names.index(field.name) - 1
    if previous >= 0 and spec.fields[previous].accepts_contact and step.error is None:
        # The share-contact keyboard must go, and a message carries one keyboard only:
        # the sender takes it off with a short word before this question (once: a
        # wrong answer asked again has no keyboard left to take off).
        return Screen(text, inline, reply_keyboard=ReplyKeyboardRemove())
    return Screen(text, inline)


def _question(lang: str, step: Ask, title: Html, names: list[str]) -> Html:
    field = step.field
    lines: list[Part] = [title]
    if len(names) > 1:
        lines.append(t(lang, "form.step", n=names.index(field.name) + 1, total=len(names)))
    lines += ["", t(lang, field.prompt)]
    current = step.data.get("_current")
    if current:
        lines.append(tr(lang, "form.current", value=Plain(str(current), CLIP_FIRST)))
    files = attached(lang, step.data)
    if files is not None:
        lines.append(files)
    hints = [t(lang, "form.hint_skip")] if field.optional else []
    hints.append(t(lang, "form.hint_cancel"))
    lines.append(Html("\n", italic(" ".join(hints))))
    return Html.join("\n", lines)


def _buttons(lang: str, step: Ask) -> list[list[InlineKeyboardButton]]:
    """The options two to a row, then Skip (optional questions) and Cancel."""
    field = step.field
    options = [
        InlineKeyboardButton(
            clip_text(label, CHOICE_LABEL_CHARS), callback_data=cb("f", "pick", field.name, value)
        )
        for label, value in step.options
    ]
    rows = [options[i : i + 2] for i in range(0, len(options), 2)]
    last = [button(lang, "form.skip", cb("f", "skip", field.name))] if field.optional else []
    last.append(button(lang, "form.cancel", cb("f", "cancel")))
    return [*rows, last]


def attached(lang: str, data: dict[str, Any]) -> Html | None:
    """The files a form carries (a question's), by name and size, or None."""
    files = [f for f in data.get("attachments") or [] if isinstance(f, dict)]
    if not files:
        return None
    names = [
        Html(Plain(str(f.get("name") or "?")), f" ({_size(int(f.get('size') or 0))})")
        for f in files
    ]
    return tr(lang, "attach.attached", n=len(files), names=Html.join(", ", names))


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def change_menu(lang: str, step: Confirm) -> Screen:
    rows = [
        [InlineKeyboardButton(t(lang, f"field.{f.name}"), callback_data=cb("f", "edit", f.name))]
        for f in step.spec.fields
        if f.name != "value"
    ]
    rows.append([button(lang, "btn.back", cb("f", "review"))])
    return Screen(t(lang, "form.change_which"), InlineKeyboardMarkup(rows))
