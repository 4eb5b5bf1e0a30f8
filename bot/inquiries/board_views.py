"""The staff's board of inquiries in chat (/inquiries, /stats): the filtered list, the
filter choices, one inquiry with its whole timeline, and the statistics.

Callback data (the list state travels in it, see bot.inquiries.board.ListState):
  ia:l:<status>:<kind>:<age>:<program>:<page>        a page of the list
  ia:f:<s|k|a>:<status>:<kind>:<age>:<program>:<page> choose a status / kind / age filter
  ia:o:<inquiry id>:<status>:<kind>:<age>:<program>:<page>  one inquiry, Back to that page
and on one inquiry, the notification card's actions, each followed by the same list state
(so Back still returns to that page; the status is one letter, board.STATUS_CODES, to keep
the longest within 64 bytes):
  ia:a:<inquiry id>:<state…>             assign: an admin picks, a teacher takes it
  ia:A:<inquiry id>:<user id>:<state…>   assign to that teacher or admin
  ia:s:<inquiry id>:<state…>             the status choices
  ia:S:<inquiry id>:<status>:<state…>    set that status (the contact is told)
  ia:r:<inquiry id>:<state…>             answer the contact (the staff reply form)
  ia:n:<inquiry id>:<state…>             add a next step (its form)
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.inquiries.board import (
    AGES,
    ANY,
    KINDS,
    OPEN,
    InquiryPage,
    ListState,
    StaffView,
    Stats,
    Trends,
    assigned_to,
)
from bot.inquiries.views import CHANGEABLE
from bot.ui import screens as views
from bot.ui.callbacks import cb
from bot.ui.i18n import format_time, localized, t
from bot.ui.text import CAPTION_LIMIT, Html, Part, Plain, clip_text, fit_lines, italic, tr
from storage.models import InquiryKind, InquiryStatus, Program, ProgramKind, Role, User

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


def person_name(user: User | None) -> str:
    if user is None:
        return ""
    return " ".join(p for p in (user.first_name, user.last_name) if p).strip()


def event_text(lang: str, view: StaffView, index: int) -> Html:
    event = view.events[index]
    name = person_name(view.actors.get(event.actor_id)) if event.actor_id else ""
    who: Part = Plain(name) if name else t(lang, "ia.someone")
    text = Plain(clip_text(event.text, EVENT_CHARS))
    if event.kind == "created":
        what = Html(t(lang, "ia.ev_created"))
    elif event.kind == "status" and event.status is not None:
        what = tr(lang, "ia.ev_status", status=Plain(status_name(lang, event.status)), who=who)
    elif event.kind == "assigned" and (whom := assigned_to(event)) is not None:
        whom_name = person_name(view.actors.get(whom))
        what = tr(lang, "ia.ev_assigned_to", who=who,
                  whom=Plain(whom_name) if whom_name else t(lang, "ia.someone"))  # fmt: skip
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


def open_data(inquiry_id: int, state: ListState) -> str:
    return cb("ia", "o", inquiry_id, *state.args())


def _actions(
    lang: str, inquiry_id: int, state: ListState, *, picks: bool
) -> list[list[InlineKeyboardButton]]:
    """The notification card's actions (bot/inquiries/views.staff_keyboard), here with
    the list state so that each comes back to this card and its Back."""
    args = state.args()
    assign_key = "ia.assign_btn" if picks else "inquiry.assign_me"
    return [
        [
            views.button(lang, assign_key, cb("ia", "a", inquiry_id, *args)),
            views.button(lang, "inquiry.status_btn", cb("ia", "s", inquiry_id, *args)),
        ],
        [
            views.button(lang, "inquiry.reply_btn", cb("ia", "r", inquiry_id, *args)),
            views.button(lang, "step.add_btn", cb("ia", "n", inquiry_id, *args)),
        ],
    ]


def status_screen(lang: str, view: StaffView, state: ListState) -> views.Screen:
    inquiry = view.inquiry
    rows = [
        [
            InlineKeyboardButton(
                ("✅ " if s is inquiry.status else "") + status_name(lang, s),
                callback_data=cb("ia", "S", inquiry.id, s.value, *state.args()),
            )
        ]
        for s in CHANGEABLE
    ]
    rows.append([views.button(lang, "btn.back", open_data(inquiry.id, state))])
    text = t(lang, "ia.choose_new_status", id=inquiry.id, status=status_name(lang, inquiry.status))
    return views.Screen(text, InlineKeyboardMarkup(rows))


def assign_screen(
    lang: str, view: StaffView, staff: list[tuple[User, Role]], state: ListState
) -> views.Screen:
    """The teachers and admins an admin may give the inquiry to; the current one ticked."""
    inquiry = view.inquiry
    rows = [
        [
            InlineKeyboardButton(
                ("✅ " if u.id == inquiry.assignee_id else "")
                + clip_text(person_name(u) or str(u.id), TITLE_CHARS)
                + f" · {views.role_name(lang, role)}",
                callback_data=cb("ia", "A", inquiry.id, u.id, *state.args()),
            )
        ]
        for u, role in staff
    ]
    rows.append([views.button(lang, "btn.back", open_data(inquiry.id, state))])
    return views.Screen(t(lang, "ia.choose_assignee", id=inquiry.id), InlineKeyboardMarkup(rows))


def inquiry_screen(
    lang: str, view: StaffView, state: ListState, tz: ZoneInfo, *, picks: bool = False
) -> views.Screen:
    """One inquiry with its timeline and actions; `picks`: the viewer may assign it to
    someone else (admins)."""
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
    assignee = person_name(view.assignee)
    lines.append(
        tr(lang, "ia.line_assignee", name=Plain(assignee) if assignee else t(lang, "ia.nobody"))
    )
    lines.append(t(lang, "ia.line_created", time=format_time(inquiry.created_at, lang, tz)))
    if inquiry.message:
        message = Plain(clip_text(inquiry.message, MESSAGE_CHARS))
        lines.append(tr(lang, "ia.line_message", text=message))
    lines += ["", t(lang, "ia.timeline")]
    events = [
        Html(f"• {format_time(e.created_at, lang, tz)} — ", event_text(lang, view, i))
        for i, e in enumerate(view.events)
    ]
    # The newest events matter most: when the timeline is too long, the oldest give way.
    text = fit_lines(
        Html.join("\n", lines), events, more=lambda n: t(lang, "ia.earlier", count=n), keep="last"
    )
    keyboard = InlineKeyboardMarkup(
        [
            *_actions(lang, inquiry.id, state, picks=picks),
            [
                views.button(lang, "btn.back", list_data(state)),
                views.button(lang, "btn.menu", cb("m", "menu")),
            ],
        ]
    )
    return views.Screen(text, keyboard)


def stage_name(lang: str, index: int, status: InquiryStatus) -> str:
    """A stage of the funnel: the first is every inquiry received, whatever came after."""
    return t(lang, "chart.received") if index == 0 else status_name(lang, status)


def duration(lang: str, hours: float) -> str:
    """A time to first response as people say it: minutes, hours, or days."""
    if hours < 1:
        return t(lang, "ia.dur_minutes", n=round(hours * 60))
    if hours < 48:
        return t(lang, "ia.dur_hours", n=f"{hours:.1f}")
    return t(lang, "ia.dur_days", n=f"{hours / 24:.1f}")


def trend_lines(lang: str, trends: Trends) -> list[Part]:
    """The chart's figures in words: the funnel, the weeks, the time to first response."""
    stages = [
        t(lang, "ia.stats_stage", name=stage_name(lang, i, s), count=n)
        for i, (s, n) in enumerate(trends.funnel)
    ]
    lines: list[Part] = [t(lang, "ia.stats_funnel"), " → ".join(stages), ""]
    this_week = trends.weeks[-1].received if trends.weeks else 0
    lines.append(
        t(lang, "ia.stats_weeks", weeks=len(trends.weeks), n=trends.received, week=this_week)
    )
    if trends.median_hours is None:
        lines.append(t(lang, "ia.stats_no_response"))
    else:
        lines.append(
            t(lang, "ia.stats_response", time=duration(lang, trends.median_hours),
              answered=trends.answered, received=trends.received)
        )  # fmt: skip
    return lines


def stats_caption(lang: str, stats: Stats) -> str:
    """The caption under the /stats chart (or the message, when there is no chart)."""

    def line(name: str, count: int) -> Html:
        return tr(lang, "ia.stats_line", name=Plain(name), count=count)

    lines: list[Part] = [
        t(lang, "ia.stats_title"),
        t(lang, "ia.stats_total", total=stats.total, open=stats.open),
        "",
        *trend_lines(lang, stats.trends),
        "",
        t(lang, "ia.stats_by_status"),
    ]
    lines += [line(status_name(lang, s), n) for s, n in stats.by_status]
    lines += ["", t(lang, "ia.stats_by_kind")]
    lines += [line(kind_name(lang, k), n) for k, n in stats.by_kind]
    lines.append(line(t(lang, "ia.stats_general"), stats.general))
    return Html.join("\n", lines).fit(CAPTION_LIMIT)


def weekly_caption(lang: str, trends: Trends) -> str:
    """The caption of the chart in the admins' Monday overview."""
    lines: list[Part] = [t(lang, "ia.weekly_chart_title"), "", *trend_lines(lang, trends)]
    return Html.join("\n", lines).fit(CAPTION_LIMIT)
