"""The /forget screens: before, what will be deleted and what is kept; after, what was
done. Counts only, never a name: the screen may be read over someone's shoulder."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.ui.callbacks import cb
from bot.ui.i18n import t
from bot.ui.screens import Screen, button
from storage.forget import Footprint, Forgotten


def _lines(lang: str, items: list[tuple[str, int | None]]) -> list[str]:
    """A bullet per item; a counted item with nothing to count is left out."""
    return [
        "• " + (t(lang, key) if n is None else t(lang, key, n=n))
        for key, n in items
        if n is None or n > 0
    ]


def confirm(lang: str, fp: Footprint) -> Screen:
    deleted: list[tuple[str, int | None]] = []
    if fp.profile:
        deleted.append(("forget.will.profile", None))
    deleted += [
        ("forget.will.account", None),
        ("forget.will.messages", fp.messages),
        ("forget.will.answers", fp.answers),
        ("forget.will.searches", fp.searches),
        ("forget.will.basket", fp.basket),
        ("forget.will.drafts", fp.drafts),
        ("forget.will.queued", fp.queued),
        ("forget.will.copies", None),
    ]
    kept: list[tuple[str, int | None]] = [
        ("forget.will.inquiries", fp.inquiries),
        ("forget.will.steps", fp.steps),
        ("forget.will.programmes", fp.programmes),
    ]
    parts = [t(lang, "forget.ask_head"), *_lines(lang, deleted)]
    kept_lines = _lines(lang, kept)
    if kept_lines:
        parts += ["", t(lang, "forget.ask_kept"), *kept_lines]
    parts += ["", t(lang, "forget.ask_foot")]
    keyboard = InlineKeyboardMarkup(
        [[button(lang, "forget.yes", cb("fg", "yes")), button(lang, "forget.no", cb("fg", "no"))]]
    )
    return Screen("\n".join(parts), keyboard)


def done(lang: str, did: Forgotten) -> Screen:
    deleted: list[tuple[str, int | None]] = []
    if did.profile:
        deleted.append(("forget.did.profile", None))
    deleted += [
        ("forget.did.account", None),
        ("forget.did.messages", did.messages),
        ("forget.did.answers", did.answers),
        ("forget.did.searches", did.searches),
        ("forget.did.basket", did.basket),
        ("forget.did.drafts", did.drafts),
        ("forget.did.cancelled", did.cancelled),
        ("forget.did.erased", did.erased),
        ("forget.did.mentions", did.mentions),
        ("forget.did.invites", did.invites),
        ("forget.did.steps_deleted", did.steps_deleted),
    ]
    kept: list[tuple[str, int | None]] = [
        ("forget.did.inquiries", did.inquiries),
        ("forget.did.steps", did.steps_handed_over),
        ("forget.did.programmes", did.programmes),
        ("forget.did.unassigned", did.unassigned),
    ]
    parts = [t(lang, "forget.done_head"), "", t(lang, "forget.done_deleted")]
    parts += _lines(lang, deleted)
    kept_lines = _lines(lang, kept)
    if kept_lines:
        parts += ["", t(lang, "forget.done_kept"), *kept_lines]
    parts += ["", t(lang, "forget.done_foot")]
    return Screen("\n".join(parts))
