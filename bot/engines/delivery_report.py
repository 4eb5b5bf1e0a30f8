"""Failed deliveries are reported to the admins, never only logged.

The outbox sender counts each row that fails for good (storage.delivery_failures: per
minute and kind, in the transaction that marks the row failed). Once a minute is over,
one process takes its counts and queues one short report per admin, in their language,
through the outbox itself (dedupe key per minute and admin). However many rows fail, an
admin gets at most one report a minute. A failed report is not reported again
(bot.outbox.REPORT_REF), and announcements are left out: their author's own report lists
every recipient that failed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from html import escape
from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession

from bot.engines import outbox
from bot.engines.staff_chat import admin_targets
from bot.settings import Settings
from bot.ui.i18n import format_time, t
from storage import delivery_failures as repo

log = logging.getLogger(__name__)

MAX_KINDS = 5  # lines per report; the rest are summed up in one line
DETAIL = 150  # characters of the error shown per kind


async def report_due(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue the reports of every minute that is over. Returns how many were queued."""
    current = int(now.timestamp()) // outbox.REPORT_PERIOD * outbox.REPORT_PERIOD
    counts = await repo.take_before(session, current)
    if not counts:
        return 0
    admins = await admin_targets(session, settings)
    if not admins:  # nobody to tell: at least the log has it
        log.warning("%d delivery failure(s) and no admin to report them to", len(counts))
    queued = 0
    for period, rows in groupby(counts, key=lambda row: row[0]):
        kinds = sorted(((kind, n) for _, kind, n in rows), key=lambda kn: (-kn[1], kn[0]))
        for admin_id, lang in admins:
            text = render(lang, settings, period, kinds)
            await outbox.queue(
                session, admin_id, outbox.payload_text(text), ref=outbox.REPORT_REF,
                dedupe_key=f"{outbox.REPORT_REF}:{period}:{admin_id}",
            )  # fmt: skip
            queued += 1
    return queued


async def next_report_at(session: AsyncSession) -> datetime | None:
    period = await repo.first_period(session)
    if period is None:
        return None
    return datetime.fromtimestamp(period + outbox.REPORT_PERIOD, UTC) + timedelta(seconds=0.5)


def render(lang: str, settings: Settings, period: int, kinds: list[tuple[str, int]]) -> str:
    total = sum(n for _, n in kinds)
    start = format_time(datetime.fromtimestamp(period, UTC), lang, settings.tz)
    lines = [t(lang, "delivery.report_head", count=total, time=start)]
    for kind, n in kinds[:MAX_KINDS]:
        category, _, detail = kind.partition("|")
        if category not in (outbox.REFUSED, outbox.GAVE_UP, outbox.BUG):
            category = outbox.GAVE_UP
        lines.append(
            t(
                lang, f"delivery.kind_{category}", count=n,
                detail=escape(detail[:DETAIL] + ("…" if len(detail) > DETAIL else "")),
            )
        )  # fmt: skip
    rest = kinds[MAX_KINDS:]
    if rest:
        lines.append(t(lang, "delivery.report_more", count=sum(n for _, n in rest)))
    lines.append(t(lang, "delivery.report_foot"))
    return "\n".join(lines)
