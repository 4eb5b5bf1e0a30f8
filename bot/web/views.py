"""The Mini App's JSON: what each service returns, in the reader's language and zone.

The page draws; every word and every time in the data comes from here, translated and
formatted as the chat would (bot/ui/i18n.py), so the two faces of the bot never differ.
Texts are plain (the page inserts them as text, never as HTML).
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.catalog import views as catalog_views
from bot.catalog.miniapp import Browse, Shown
from bot.inquiries import board_views
from bot.inquiries.board import Trends
from bot.inquiries.board_views import person_name, status_name
from bot.inquiries.miniapp import AGES, Board, Detail
from bot.people.person import Person
from bot.ui.i18n import catalog, format_clock, localized, t, zone_name
from bot.ui.text import plain_of
from storage.inquiry_board import BoardRow
from storage.models import InquiryStatus, ProgramKind, StepStatus, User

Json = dict[str, Any]
PAGE_TEXTS = "web."  # the page's own words (bot/locales/*/webapp_page.po)


@cache
def page_texts(lang: str) -> dict[str, str]:
    return {k: v for k, v in catalog(lang).items() if k.startswith(PAGE_TEXTS)}


def me(person: Person, tz: ZoneInfo, reports: bool) -> Json:
    lang = person.language
    texts = page_texts(lang)
    return {
        "id": person.id,
        "name": person.first_name,
        "lang": lang,
        "role": person.role.value,
        "staff": person.is_staff,
        "reports": reports,
        "zone": zone_name(lang, tz),
        "texts": texts,
    }


def _kind(lang: str, kind: ProgramKind | None) -> str | None:
    return catalog_views.kind_name(lang, kind) if kind is not None else None


def _user(user: User | None) -> Json | None:
    return {"id": user.id, "name": person_name(user) or str(user.id)} if user else None


# -- catalogue --------------------------------------------------------------------------


def browse(lang: str, found: Browse) -> Json:
    names = {d.id: localized(lang, d.name_zh, d.name_en) for d in found.departments}
    return {
        "items": [
            {
                "id": row.id,
                "title": localized(lang, row.title_zh, row.title_en),
                "kind": row.kind.value,
                "kind_label": catalog_views.kind_name(lang, row.kind),
                "department": names.get(row.department_id, ""),
                "summary": localized(lang, row.summary_zh, row.summary_en)[:160],
            }
            for row in found.items
        ],
        "page": found.page,
        "pages": found.pages,
        "total": found.total,
        "kinds": [
            {"value": k.value, "label": catalog_views.kind_name(lang, k), "count": n}
            for k, n in found.kinds
            if n
        ],
        "departments": [
            {"id": d.id, "name": names[d.id], "count": d.programs} for d in found.departments
        ],
    }


def program(lang: str, shown: Shown) -> Json:
    found = shown.card
    p, department = found.program, found.department
    tags = catalog_views.tags_for(lang, p.tags)
    return {
        "id": p.id,
        "title": localized(lang, p.title_zh, p.title_en),
        "kind_label": catalog_views.kind_name(lang, p.kind),
        "department": localized(lang, department.name_zh, department.name_en),
        "summary": localized(lang, p.summary_zh, p.summary_en),
        "benefits": localized(lang, p.benefits_zh, p.benefits_en),
        "tags": [tag for tag in tags.replace("、", ", ").split(", ") if tag],
        "contact": p.contact,
        "interested": shown.interested,
    }


PROFILE_FIELDS = ("organization", "contact_person", "phone", "email", "industry")


def profile(lang: str, found: Any) -> Json:
    return {
        "profile": (
            {name: getattr(found, name) or "" for name in PROFILE_FIELDS} if found else None
        ),
        "consent": plain_of(t(lang, "profile.ask_consent")),
        "fields": {name: plain_of(t(lang, f"pfield.{name}")) for name in PROFILE_FIELDS},
    }


# -- the board --------------------------------------------------------------------------


def _item(
    lang: str, tz: ZoneInfo, found: Board, row: BoardRow, labels: dict[object, str | None]
) -> Json:
    due = row.next_due
    title = localized(lang, row.title_zh or "", row.title_en or "") if row.program_id else None
    return {
        "id": row.id,
        "organization": row.organization,
        "program": title or None,
        "kind_label": labels.get(row.kind),
        "department": labels.get(row.department_id),
        "assignee": labels.get(("user", row.assignee_id)),
        "created": format_clock(row.created_at, lang, tz),
        "age_days": max(0, (found.now - row.created_at).days),
        "overdue": row.id in found.overdue,
        "next_due": format_clock(due, lang, tz) if due else None,
    }


def board(lang: str, tz: ZoneInfo, found: Board) -> Json:
    # Each kind's, department's and person's label once, not once per card (300 cards).
    labels: dict[object, str | None] = {k: _kind(lang, k) for k in ProgramKind}
    labels.update({d.id: localized(lang, d.name_zh, d.name_en) for d in found.departments.values()})
    labels.update({("user", u.id): person_name(u) for u in found.people.values()})
    return {
        "columns": [
            {
                "status": column.status.value,
                "label": status_name(lang, column.status),
                "count": column.count,
                "items": [_item(lang, tz, found, row, labels) for row in column.items],
            }
            for column in found.columns
        ],
        "filters": {
            "kinds": [
                {"value": k.value, "label": catalog_views.kind_name(lang, k)} for k in ProgramKind
            ],
            "departments": [
                {"id": d.id, "name": localized(lang, d.name_zh, d.name_en)}
                for d in found.departments.values()
            ],
            "assignees": [_user(u) for u in found.assignees],
            "ages": list(AGES),
        },
    }


def detail(lang: str, tz: ZoneInfo, found: Detail) -> Json:
    view = found.view
    inquiry, p, profile_row = view.inquiry, view.program, found.profile
    department = found.department
    return {
        "id": inquiry.id,
        "status": inquiry.status.value,
        "status_label": status_name(lang, inquiry.status),
        "kind_label": _kind(lang, p.kind if p else None),
        "program": localized(lang, p.title_zh, p.title_en) if p else None,
        "department": localized(lang, department.name_zh, department.name_en)
        if department
        else None,
        "organization": inquiry.organization,
        "contact_person": profile_row.contact_person if profile_row else "",
        "phone": profile_row.phone if profile_row else "",
        "email": profile_row.email if profile_row else "",
        "message": inquiry.message,
        "created": format_clock(inquiry.created_at, lang, tz),
        "assignee": _user(view.assignee),
        "events": [
            {
                "when": format_clock(event.created_at, lang, tz),
                "who": person_name(view.actors.get(event.actor_id)) if event.actor_id else "",
                "what": plain_of(board_views.event_text(lang, view, i).render()),
                "text": event.text if event.kind in ("reply", "follow_up", "created") else "",
            }
            for i, event in enumerate(view.events)
        ],
        "steps": [
            {
                "id": step.id,
                "title": step.title,
                "due": format_clock(step.due_at, lang, tz),
                "done": step.status is StepStatus.DONE,
                "overdue": step.status is StepStatus.OPEN and step.due_at < found.now,
            }
            for step in found.steps
            if step.status is not StepStatus.CANCELLED
        ],
        "statuses": [{"value": s.value, "label": status_name(lang, s)} for s in InquiryStatus],
        "assignees": [_user(u) for u in found.assignees],
    }


def acted(lang: str, tz: ZoneInfo, found: Detail, key: str, **values: object) -> Json:
    return {"inquiry": detail(lang, tz, found), "text": plain_of(t(lang, key, **values))}


def stats(lang: str, trends: Trends) -> Json:
    stages = [
        {"status": status.value, "label": board_views.stage_name(lang, i, status), "count": n}
        for i, (status, n) in enumerate(trends.funnel)
    ]
    weeks = [
        {"label": week_label(lang, week.start), "count": week.received} for week in trends.weeks
    ]
    median = None
    if trends.median_hours is not None:
        median = plain_of(
            t(lang, "ia.stats_response", time=board_views.duration(lang, trends.median_hours),
              answered=trends.answered, received=trends.received)
        )  # fmt: skip
    return {"funnel": stages, "weeks": weeks, "median_first_response": median}


def week_label(lang: str, start: Any) -> str:
    return f"{start.month}月{start.day}日" if lang == "zh" else start.strftime("%-d %b")


def text(lang: str, key: str, **values: object) -> Json:
    return {"text": plain_of(t(lang, key, **values))}
