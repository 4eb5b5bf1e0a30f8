"""Field kinds that more than one form asks for, built on the engine's Field."""

from __future__ import annotations

from bot.formats.timeparse import format_echo, parse_when
from bot.forms.engine import Field, ParseContext
from bot.ui.text import clip_text


def _when(text: str, ctx: ParseContext) -> dict[str, str]:
    """Keeps the understood moment and how it reads, for the check screen (the echo)."""
    moment = parse_when(text, now=ctx.now, tz=ctx.tz, lang=ctx.lang)
    return {
        "at": moment.isoformat(),
        "typed": clip_text(text, 60),
        "shown": format_echo(moment, ctx.lang, ctx.tz),
    }


def when_field(name: str, prompt: str) -> Field:
    """A field that takes a naturally typed time and keeps how it was understood."""
    return Field(name, prompt, parse_in=_when)
