"""The Mini App's API (bot/web/miniapp.py checks initData and maps refusals to statuses):
each endpoint parses the request, calls one service, and renders its JSON."""

from __future__ import annotations

from datetime import datetime

from telegram.error import TelegramError

from bot.catalog import miniapp as catalog
from bot.inquiries import board
from bot.inquiries import miniapp as inquiries
from bot.inquiries.board_views import person_name, status_name
from bot.people import roles as access
from bot.people.roles import Act
from bot.ui.errors import FieldError
from bot.ui.i18n import format_time, t
from bot.ui.ids import valid_id
from bot.ui.text import plain_of
from bot.web import views
from bot.web.miniapp import NotUnderstood, Reply, Route, WebCall


async def me(call: WebCall) -> Reply:
    reports = access.allowed(call.person, Act.INQUIRY_REPORTS)
    return views.me(call.person, call.settings.tz, reports)


# -- the catalogue ----------------------------------------------------------------------


async def catalog_page(call: WebCall) -> Reply:
    query = catalog.CatalogQuery.parse(call.args)
    async with call.db() as session:
        found = await catalog.browse(
            session, call.person, query, call.runtime.search, call.runtime.facets
        )
    return views.browse(call.lang, found)


async def program(call: WebCall) -> Reply:
    program_id = call.number("id")
    async with call.db() as session:
        shown = await catalog.card(session, call.person, program_id)
    return views.program(call.lang, shown)


async def profile(call: WebCall) -> Reply:
    async with call.db() as session:
        found = await inquiries.profile_of(session, call.person)
    return views.profile(call.lang, found)


async def interest(call: WebCall) -> Reply:
    program_id, body = call.number("id"), await call.body()
    async with call.db(write=True) as session:
        done = await inquiries.register_interest(
            session, call.settings, call.person, program_id, body
        )
    call.wake_engines()
    return {"inquiry_id": done.inquiry_id, "text": plain_of(done.html)}


# -- the staff's board ------------------------------------------------------------------


async def show_board(call: WebCall) -> Reply:
    query = inquiries.BoardQuery.parse(call.args)
    async with call.db() as session:
        found = await inquiries.show_board(
            session, call.settings, call.person, query, call.runtime.search, call.now()
        )
    return views.board(call.lang, call.settings.tz, found)


async def inquiry(call: WebCall) -> Reply:
    inquiry_id = call.number("id")
    async with call.db() as session:
        found = await inquiries.detail(session, call.settings, call.person, inquiry_id, call.now())
    return {"inquiry": views.detail(call.lang, call.settings.tz, found)}


def _text(body: dict[str, object], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise NotUnderstood()
    return value


async def move(call: WebCall) -> Reply:
    inquiry_id, body = call.number("id"), await call.body()
    async with call.db(write=True) as session:
        found = await inquiries.move(
            session, call.settings, call.person, inquiry_id, _text(body, "status"), call.now()
        )
    call.wake_engines()
    status = status_name(call.lang, found.view.inquiry.status)
    return views.acted(call.lang, call.settings.tz, found, "webapp.moved", status=status)


async def assign(call: WebCall) -> Reply:
    inquiry_id, body = call.number("id"), await call.body()
    assignee = body.get("assignee_id")
    if not valid_id(assignee, user=True):
        raise NotUnderstood()
    async with call.db(write=True) as session:
        found = await inquiries.assign(
            session, call.settings, call.person, inquiry_id, int(str(assignee)), call.now()
        )
    call.wake_engines()
    name = person_name(found.view.assignee)
    return views.acted(call.lang, call.settings.tz, found, "webapp.assigned", name=name)


async def reply(call: WebCall) -> Reply:
    inquiry_id, body = call.number("id"), await call.body()
    async with call.db(write=True) as session:
        found = await inquiries.reply(
            session, call.settings, call.person, inquiry_id, _text(body, "text"), call.now()
        )
    call.wake_engines()
    return views.acted(call.lang, call.settings.tz, found, "webapp.replied", id=inquiry_id)


def _local_time(call: WebCall, typed: str) -> datetime:
    """`<input type="datetime-local">`'s value, in the configured zone. Read whole: cut
    short, "…T10:00:00Z" would lose its zone and be taken as local time."""
    try:
        if len(typed) > 32:
            raise ValueError(typed)
        naive = datetime.fromisoformat(typed)
    except ValueError:
        raise FieldError("webapp.step_due", field="due") from None
    if naive.tzinfo is not None:
        raise FieldError("webapp.step_due", field="due")
    return naive.replace(tzinfo=call.settings.tz)


async def add_step(call: WebCall) -> Reply:
    inquiry_id, body = call.number("id"), await call.body()
    due_at = _local_time(call, _text(body, "due"))
    lang, tz, now = call.lang, call.settings.tz, call.now()
    async with call.db(write=True) as session:
        found, step = await inquiries.add_step(
            session, call.settings, call.person, inquiry_id, _text(body, "title"), due_at, now
        )
    call.wake_engines()
    # The time as understood, with its zone, so a wrong guess is seen at once.
    due = format_time(step.due_at, lang, tz)
    return views.acted(lang, tz, found, "webapp.step_saved", title=step.title, due=due)


async def stats(call: WebCall) -> Reply:
    async with call.db() as session:
        found = await board.charts(session, call.person, call.settings.tz, call.now())
    return views.stats(call.lang, found)


async def export(call: WebCall) -> Reply:
    """The inquiries file, into the caller's chat with the bot, as /export_inquiries."""
    body = await call.body()
    lang, tz, now = call.lang, call.settings.tz, call.now()
    choice = _text(body, "format")
    if choice not in board.EXPORT_FORMATS:
        raise NotUnderstood()
    async with call.db() as session:
        made = await board.export(session, call.person, [choice], tz, now, lang)
    caption = t(lang, "ia.export_caption", count=made.count, time=format_time(now, lang, tz))
    try:
        await call.bot.send_document(
            chat_id=call.person.id, document=made.data, filename=made.filename, caption=caption
        )
    except TelegramError:  # not sent: never say it was (they may have blocked the bot)
        raise FieldError("webapp.export_failed") from None
    return views.text(lang, "webapp.export_sent")


ROUTES: list[Route] = [
    ("GET", "/api/me", me),
    ("GET", "/api/catalog", catalog_page),
    ("GET", "/api/programs/{id}", program),
    ("GET", "/api/profile", profile),
    ("POST", "/api/programs/{id}/interest", interest),
    ("GET", "/api/board", show_board),
    ("GET", "/api/inquiries/{id}", inquiry),
    ("POST", "/api/inquiries/{id}/status", move),
    ("POST", "/api/inquiries/{id}/assign", assign),
    ("POST", "/api/inquiries/{id}/reply", reply),
    ("POST", "/api/inquiries/{id}/steps", add_step),
    ("GET", "/api/stats", stats),
    ("POST", "/api/export", export),
]
