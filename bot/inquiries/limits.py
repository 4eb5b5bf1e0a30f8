"""How long a message in the pipeline may be: a contact's interest note, question or
follow-up, and a staff answer.

Each is relayed whole inside a message with other parts (the staff card, the relayed
answer, the follow-up to staff), and a person is told "sent" only for what can be
delivered. So the limit is computed, not guessed: every other part of each of those
messages is filled with the longest value its form, its column or Telegram allows, in
every language, and what is left of Telegram's 4,096 characters is the room for the
message, rounded down to a hundred for a friendlier number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from bot.inquiries import views
from bot.ui.i18n import LANGUAGES, format_time
from bot.ui.text import TELEGRAM_NAME, TELEGRAM_USERNAME, TEXT_LIMIT, Html
from storage.models import EnterpriseProfile, Inquiry, InquiryKind, InquiryStatus, Program, User

WORST_ID = 2**63 - 1  # the widest id a BIGINT holds
PROBE = "x"  # the message whose room is measured


def _column(model: type[object], name: str) -> int:
    length: int = model.__table__.c[name].type.length  # type: ignore[attr-defined]
    return length


def _widest_zone() -> ZoneInfo:
    return ZoneInfo(max(sorted(available_timezones()), key=len))


def _widest_time(lang: str, zone: ZoneInfo) -> datetime:
    """The moment that prints longest in `lang` (day and month names vary in length)."""
    moments = [datetime(2026, month, 28, 23, 59, tzinfo=UTC) for month in range(1, 13)]
    return max(moments, key=lambda m: len(format_time(m, lang, zone)))


def worst_cases(lang: str) -> list[Html]:
    """Every message that carries a pipeline message, each part at its longest."""
    zone = _widest_zone()
    program = Program(
        title_zh="W" * _column(Program, "title_zh"), title_en="W" * _column(Program, "title_en")
    )
    profile = EnterpriseProfile(
        **{
            name: "W" * _column(EnterpriseProfile, name)
            for name in ("organization", "contact_person", "phone", "email", "industry")
        }
    )
    contact = User(first_name="W" * TELEGRAM_NAME, username="W" * TELEGRAM_USERNAME)
    staff_name = "W" * TELEGRAM_NAME
    received = _widest_time(lang, zone)
    cases: list[Html] = []
    for kind in InquiryKind:
        for status in InquiryStatus:
            inquiry = Inquiry(
                id=WORST_ID, kind=kind, status=status, message=PROBE,
                created_at=received,
            )  # fmt: skip
            for shown_profile, shown_program in ((profile, program), (None, None)):
                cases.append(
                    views.staff_card_text(
                        lang, inquiry, shown_program, shown_profile, contact, zone
                    )
                )
            for name in (staff_name, None):
                cases.append(views.answer_text(lang, inquiry, program, PROBE, name))
                cases.append(views.answer_text(lang, inquiry, None, PROBE, name))
            for shown_profile in (profile, None):
                cases.append(views.follow_up_text(lang, inquiry, shown_profile, PROBE))
            cases.append(views.answer_posted_text(lang, inquiry, staff_name, PROBE))
    return cases


@cache
def message_limit() -> int:
    """The most characters a pipeline message may have (the same for every form)."""
    longest = max(case.length() - len(PROBE) for lang in LANGUAGES for case in worst_cases(lang))
    return (TEXT_LIMIT - longest) // 100 * 100
