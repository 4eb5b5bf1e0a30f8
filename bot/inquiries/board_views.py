"""The staff's board of inquiries in chat (/inquiries, /stats): the filtered list, the
filter choices, one inquiry with its whole timeline, and the statistics.

Callback data (the list state travels in it, see bot.inquiries.board.ListState):
  ia:l:<status>:<kind>:<age>:<program>:<page>        a page of the list
  ia:f:<s|k|a>:<status>:<kind>:<age>:<program>:<page> choose a status / kind / age filter
  ia:o:<inquiry id>:<status>:<kind>:<age>:<program>:<page>  one inquiry, Back to that page
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.inquiries.board import AGES, ANY, KINDS, OPEN, InquiryPage, ListState, StaffView, Stats
from bot.ui import screens as views
from bot.ui.callbacks import cb
from bot.ui.i18n import format_time, localized, t
from bot.ui.text import Html, Part, Plain, clip_text, fit_lines, italic, tr
from storage.models import InquiryKind, InquiryStatus, Program, ProgramKind, User

TITLE_CHARS = 36  # of a programme title in a button
MESSAGE_CHARS = 1500  # of the message above the timeline (the staff card has it whole)
EVENT_CHARS = 300


def status_name(lang: str, status: InquiryStatus) -> str:
    return t(lang, f"istatus.{status.value}")


def kind_name(lang: str, kind: ProgramKind) -> str:
    return t(lang, f"kind.{kind.value}")


def program_title(lang: str, program: Program | None) -> str:
    if program is None:
        return t(lang, "ia.general")
    return localized(lang, program.title_zh, program.title_en) or program.code


def _status_value(lang: str, token: str) -> str:
    if token == ANY:
        return t(lang, "ia.all")
    if token == OPEN:
        return t(lang, "ia.open_only")
    return status_name(lang, InquiryStatus(token))


def _kind_value(lang: str, index: int | None) -> str:
    return t(lang, "ia.all") if index is None else kind_name(lang, KINDS[index])


def _age_value(lang: str, days: int) -> str:
    if days == 0:
        return t(lang, "ia.age_any")
    return t(lang, "ia.age_day") if days == 1 else t(lang, "ia.age_days", days=days)


def list_data(state: ListState) -> str:
    return cb("ia", "l", *state.args())


def list_screen(lang: str, found: InquiryPage) -> views.Screen:
    state = found.state
    at_first = state.with_page(1)
    rows: list[list[InlineKeyboardButton]] = [
        [
            InlineKeyboardButton(
                t(lang, "ia.status_btn", value=_status_value(lang, state.status)),
                callback_data=cb("ia", "f", "s", *at_first.args()),
            ),
            InlineKeyboardButton(
                t(lang, "ia.kind_btn", value=_kind_value(lang, state.kind)),
                callback_data=cb("ia", "f", "k", *at_first.args()),
            ),
        ],
        [
            InlineKeyboardButton(
                t(lang, "ia.age_btn", value=_age_value(lang, state.age)),
                callback_data=cb("ia", "f", "a", *at_first.args()),
            )
        ],
    ]
    code = found.program.code if found.program is not None else None
    if state.program_id is not None:
        rows[1].append(
            InlineKeyboardButton(
                t(lang, "ia.program_clear", code=code or "?"),
                callback_data=list_data(ListState(state.status, state.kind, state.age)),
            )
        )
    for item in found.items:
        label = (
            f"#{item.id} · {clip_text(program_title(lang, item.program), TITLE_CHARS)} · "
            f"{status_name(lang, item.status)}"
        )
        rows.append(
            [InlineKeyboardButton(label, callback_data=cb("ia", "o", item.id, *state.args()))]
        )
    nav = []
    if state.page > 1:
        nav.append(views.button(lang, "btn.prev", list_data(state.with_page(state.page - 1))))
    if state.page < found.pages:
        nav.append(views.button(lang, "btn.next", list_data(state.with_page(state.page + 1))))
    if nav:
        rows.append(nav)
    rows.append([views.button(lang, "btn.menu", cb("m", "menu"))])

    filters_line = tr(
        lang,
        "ia.filters",
        status=Plain(_status_value(lang, state.status)),
        kind=Plain(_kind_value(lang, state.kind)),
        age=Plain(_age_value(lang, state.age)),
    )
    lines: list[Part] = [t(lang, "ia.title"), filters_line]
    if state.program_id is not None:
        lines.append(tr(lang, "ia.filter_program", code=Plain(code or "?")))
    if found.total:
        lines.append(
            t(lang, "ia.page_count", page=state.page, pages=found.pages, total=found.total)
        )
    else:
        lines.append(t(lang, "ia.none"))
    return views.Screen(Html.join("\n", lines).fit(), InlineKeyboardMarkup(rows))


def filter_screen(lang: str, which: str, state: ListState) -> views.Screen:
    """The choices for one filter; each goes to the first page of the list so filtered."""
    options: list[tuple[str, ListState, bool]]
    if which == "s":
        tokens = [ANY, OPEN, *(s.value for s in InquiryStatus)]
        options = [
            (_status_value(lang, tok), ListState(tok, state.kind, state.age, state.program_id),
             tok == state.status)
            for tok in tokens
        ]  # fmt: skip
        key = "ia.choose_status"
    elif which == "k":
        indexes: list[int | None] = [None, *range(len(KINDS))]
        options = [
            (_kind_value(lang, i), ListState(state.status, i, state.age, state.program_id),
             i == state.kind)
            for i in indexes
        ]  # fmt: skip
        key = "ia.choose_kind"
    else:
        options = [
            (_age_value(lang, d), ListState(state.status, state.kind, d, state.program_id),
             d == state.age)
            for d in AGES
        ]  # fmt: skip
        key = "ia.choose_age"
    rows = [
        [InlineKeyboardButton(("✅ " if chosen else "") + label, callback_data=list_data(new))]
        for label, new, chosen in options
    ]
    rows.append([views.button(lang, "btn.back", list_data(state))])
    return views.Screen(t(lang, key), InlineKeyboardMarkup(rows))


def _name(user: User | None) -> str:
    if user is None:
        return ""
    return " ".join(p for p in (user.first_name, user.last_name) if p).strip()


def _event_text(lang: str, view: StaffView, index: int) -> Html:
    event = view.events[index]
    name = _name(view.actors.get(event.actor_id)) if event.actor_id else ""
    who: Part = Plain(name) if name else t(lang, "ia.someone")
    text = Plain(clip_text(event.text, EVENT_CHARS))
    if event.kind == "created":
        what = Html(t(lang, "ia.ev_created"))
    elif event.kind == "status" and event.status is not None:
        what = tr(lang, "ia.ev_status", status=Plain(status_name(lang, event.status)), who=who)
    elif event.kind == "assigned":
        what = tr(lang, "ia.ev_assigned", who=who)
    elif event.kind == "reply":
        what = tr(lang, "ia.ev_reply", who=who, text=text)
    elif event.kind == "follow_up":
        what = tr(lang, "ia.ev_follow_up", text=text)
    else:
        what = tr(lang, "ia.ev_other", kind=Plain(event.kind), text=text)
    if not event.public:
        what += Html(" ", italic(t(lang, "ia.internal")))
    return what


def inquiry_screen(lang: str, view: StaffView, state: ListState, tz: ZoneInfo) -> views.Screen:
    inquiry = view.inquiry
    kind_key = "ia.kind_interest" if inquiry.kind is InquiryKind.INTEREST else "ia.kind_question"
    program = view.program
    title = Html(Plain(program_title(lang, program)))
    if program is not None:
        title = Html(
            Plain(program.code), " · ", title, " (", Plain(kind_name(lang, program.kind)), ")"
        )
    lines: list[Part] = [
        t(lang, "ia.view_title", id=inquiry.id, kind=t(lang, kind_key)),
        tr(lang, "ia.line_status", status=Plain(status_name(lang, inquiry.status))),
        tr(lang, "ia.line_program", title=title),
    ]
    organization = inquiry.organization or (view.profile.organization if view.profile else "")
    if organization:
        lines.append(tr(lang, "ia.line_org", org=Plain(organization)))
    if view.profile is not None and view.profile.contact_person:
        lines.append(tr(lang, "ia.line_contact", name=Plain(view.profile.contact_person)))
    assignee = _name(view.assignee)
    lines.append(
        tr(lang, "ia.line_assignee", name=Plain(assignee) if assignee else t(lang, "ia.nobody"))
    )
    lines.append(t(lang, "ia.line_created", time=format_time(inquiry.created_at, lang, tz)))
    if inquiry.message:
        message = Plain(clip_text(inquiry.message, MESSAGE_CHARS))
        lines.append(tr(lang, "ia.line_message", text=message))
    lines += ["", t(lang, "ia.timeline")]
    events = [
        Html(f"• {format_time(e.created_at, lang, tz)} — ", _event_text(lang, view, i))
        for i, e in enumerate(view.events)
    ]
    # The newest events matter most: when the timeline is too long, the oldest give way.
    text = fit_lines(
        Html.join("\n", lines), events, more=lambda n: t(lang, "ia.earlier", count=n), keep="last"
    )
    keyboard = InlineKeyboardMarkup(
        [
            [views.button(lang, "btn.back", list_data(state))],
            [views.button(lang, "btn.menu", cb("m", "menu"))],
        ]
    )
    return views.Screen(text, keyboard)


def stats_screen(lang: str, stats: Stats) -> views.Screen:
    def line(name: str, count: int) -> Html:
        return tr(lang, "ia.stats_line", name=Plain(name), count=count)

    lines: list[Part] = [t(lang, "ia.stats_title"), "", t(lang, "ia.stats_by_status")]
    lines += [line(status_name(lang, s), n) for s, n in stats.by_status]
    lines += ["", t(lang, "ia.stats_by_kind")]
    lines += [line(kind_name(lang, k), n) for k, n in stats.by_kind]
    lines.append(line(t(lang, "ia.stats_general"), stats.general))
    lines += ["", t(lang, "ia.stats_total", total=stats.total, open=stats.open)]
    return views.Screen(Html.join("\n", lines).fit())
