"""Catalog screens: home, kinds, departments, a page of programmes, a programme card."""

from __future__ import annotations

import io
import re
from html import escape

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.catalog.files import ACCEPTED
from bot.catalog.forms import TEXT_FIELDS
from bot.catalog.imports import ImportReport, render
from bot.catalog.service import ListRef, Page, title_of
from bot.formats.spreadsheets import FileError, FileFormat
from bot.people.person import Person
from bot.ui.callbacks import cb
from bot.ui.deeplinks import link, share_url
from bot.ui.i18n import bracketed, localized, t
from bot.ui.screens import Screen, button, pager
from bot.ui.text import (
    CAPTION_LIMIT,
    CLIP_FIRST,
    KEEP,
    Html,
    Part,
    Plain,
    bold,
    clip_text,
    fit_lines,
    italic,
    tr,
)
from storage.models import ProgramKind, ProgramStatus, User
from storage.programs import Card, DepartmentRow

BUTTON_TITLE_CHARS = 48
DEPARTMENTS_PER_PAGE = 8


def _label(text: str) -> str:
    return clip_text(text, BUTTON_TITLE_CHARS)


def kind_name(lang: str, kind: ProgramKind) -> str:
    return t(lang, f"kind.{kind.value}")


def home(person: Person) -> Screen:
    lang = person.language
    rows = [
        [button(lang, "catalog.by_kind", cb("c", "kinds"))],
        [button(lang, "catalog.by_department", cb("c", "deps", 1))],
        [button(lang, "catalog.search", cb("c", "search"))],
    ]
    if person.is_admin:
        rows.append([button(lang, "catalog.add", cb("ca", "new"))])
    rows.append([button(lang, "btn.menu", cb("m", "menu"))])
    return Screen(t(lang, "catalog.home"), InlineKeyboardMarkup(rows))


def kinds(lang: str, counts: list[tuple[ProgramKind, int]]) -> Screen:
    rows = [
        [
            InlineKeyboardButton(
                bracketed(lang, kind_name(lang, kind), n),
                callback_data=cb("c", "l", f"k-{kind.value}", "f0"),
            )
        ]
        for kind, n in counts
    ]
    rows.append([button(lang, "btn.back", cb("c", "home"))])
    return Screen(t(lang, "catalog.choose_kind"), InlineKeyboardMarkup(rows))


def departments(lang: str, rows_in: list[DepartmentRow], page_no: int) -> Screen:
    pages = max(1, -(-len(rows_in) // DEPARTMENTS_PER_PAGE))
    page_no = min(max(1, page_no), pages)
    chunk = rows_in[(page_no - 1) * DEPARTMENTS_PER_PAGE : page_no * DEPARTMENTS_PER_PAGE]
    rows = [
        [
            InlineKeyboardButton(
                bracketed(lang, _label(localized(lang, d.name_zh, d.name_en)), d.programs),
                callback_data=cb("c", "l", f"d-{d.id}", "f0"),
            )
        ]
        for d in chunk
    ]
    rows += pager(
        lang,
        cb("c", "deps", page_no - 1) if page_no > 1 else None,
        cb("c", "deps", page_no + 1) if page_no < pages else None,
    )
    rows.append([button(lang, "btn.back", cb("c", "home"))])
    text = t(lang, "catalog.choose_department")
    if not rows_in:
        text = t(lang, "catalog.no_departments")
    elif pages > 1:
        text += "\n" + t(lang, "catalog.page", page=page_no, pages=pages)
    return Screen(text, InlineKeyboardMarkup(rows))


def _back_from_list(ref: ListRef) -> str:
    if ref.source.startswith("k-"):
        return cb("c", "kinds")
    if ref.source.startswith("d-"):
        return cb("c", "deps", 1)
    return cb("c", "home")


def program_list(lang: str, page: Page) -> Screen:
    key, values = page.heading
    if "kind" in values:
        values = {"kind": t(lang, str(values["kind"]))}
    heading = tr(lang, key, **{k: Plain(str(v)) for k, v in values.items()})
    here = page.here
    rows = [
        [
            InlineKeyboardButton(
                _label(title_of(lang, item)),
                callback_data=cb("c", "p", item.id, here.source, here.anchor),
            )
        ]
        for item in page.items
    ]
    rows += pager(
        lang,
        cb("c", "l", page.prev.source, page.prev.anchor) if page.prev is not None else None,
        cb("c", "l", page.next.source, page.next.anchor) if page.next is not None else None,
    )
    rows.append(
        [
            button(lang, "btn.back", _back_from_list(page.ref)),
            button(lang, "btn.menu", cb("m", "menu")),
        ]
    )
    count = t(lang, "catalog.page_count", page=page.number, pages=page.pages, total=page.total)
    return Screen(Html(bold(heading), "\n", count).fit(), InlineKeyboardMarkup(rows))


def no_results(lang: str, query: str, counts: list[tuple[ProgramKind, int]]) -> Screen:
    suggestions = kinds(lang, counts)
    text = Html(tr(lang, "catalog.no_results", query=Plain(query)), "\n\n", suggestions.text)
    return Screen(text.fit(), suggestions.keyboard)


def card(person: Person, found: Card, back: ListRef | None, bot_username: str) -> Screen:
    keyboard = _card_keyboard(person, found, back, bot_username)
    return Screen(_card_text(person.language, found), keyboard)


def card_text(lang: str, found: Card) -> str:
    """The card's text, as the bot shows it (also what inline mode posts)."""
    return _card_text(lang, found)


def _card_text(lang: str, found: Card) -> str:
    """The title, kind and department stay whole; long summaries and benefits give way
    first (the longer one first), then tags: the card always fits one message."""
    p, d = found.program, found.department
    parts: list[Part] = [bold(Plain(title_of(lang, found), KEEP))]
    if (lang == "zh" and not p.title_zh) or (lang == "en" and not p.title_en):
        parts.append(italic(t(lang, "catalog.other_language_only")))
    dept = localized(lang, d.name_zh, d.name_en)
    parts.append(Html(Plain(kind_name(lang, p.kind), KEEP), " · ", Plain(dept, KEEP)))
    parts.append(t(lang, "catalog.status_line", status=t(lang, f"status.{p.status.value}")))
    summary = localized(lang, p.summary_zh, p.summary_en)
    if summary:
        parts.append(Html("\n", Plain(summary)))
    benefits = localized(lang, p.benefits_zh, p.benefits_en)
    if benefits:
        parts.append(Html("\n", bold(t(lang, "catalog.benefits")), "\n", Plain(benefits)))
    contact_bits = [Plain(found.owner.first_name)] if found.owner is not None else []
    if p.contact:
        contact_bits.append(Plain(p.contact))
    if contact_bits:
        parts.append(
            Html("\n", bold(t(lang, "catalog.contact")), " ", Html.join(" · ", contact_bits))
        )
    tags = tags_for(lang, p.tags)
    if tags:
        parts.append(Html("🏷 ", Plain(tags, CLIP_FIRST)))
    return Html.join("\n", parts).fit()


_TAG_SEPARATORS = re.compile(r"\s*[,，、;；]\s*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def tags_for(lang: str, tags: str) -> str:
    """The programme's tags a reader of `lang` reads: the Chinese ones on a Chinese card,
    the others on an English one (all of them, when none is in the reader's language).
    Search still finds every tag."""
    every = [tag for tag in _TAG_SEPARATORS.split(tags.strip()) if tag]
    mine = [tag for tag in every if bool(_CJK.search(tag)) == (lang == "zh")]
    return ("、" if lang == "zh" else ", ").join(mine or every)


def share_button(lang: str, found: Card, bot_username: str) -> InlineKeyboardButton:
    """Telegram's share screen with the programme's deep link and its title."""
    url = share_url(program_link(bot_username, found.program.id), title_of(lang, found))
    return InlineKeyboardButton(t(lang, "catalog.share_to"), url=url)


def share_keyboard(lang: str, found: Card, bot_username: str) -> InlineKeyboardMarkup:
    """Under the QR code: the same link, straight into a chat."""
    return InlineKeyboardMarkup([[share_button(lang, found, bot_username)]])


def _card_keyboard(
    person: Person, found: Card, back: ListRef | None, bot_username: str
) -> InlineKeyboardMarkup:
    lang, p = person.language, found.program
    rows = []
    if p.status is ProgramStatus.OPEN:
        rows.append(
            [
                button(lang, "interest.btn", cb("i", "one", p.id)),
                button(lang, "basket.add_btn", cb("i", "add", p.id)),
            ]
        )
    rows.append(
        [
            button(lang, "question.btn", cb("i", "ask", p.id)),
            button(lang, "catalog.share", cb("c", "share", p.id)),
        ]
    )
    rows.append([share_button(lang, found, bot_username)])
    if person.is_admin:
        rows.append(
            [
                button(lang, "catalog.edit", cb("ca", "edit", p.id)),
                button(lang, "catalog.owner", cb("ca", "owners", p.id, 1)),
            ]
        )
        opened = p.status is ProgramStatus.OPEN
        key, value = ("catalog.close", "closed") if opened else ("catalog.open", "open")
        rows.append([button(lang, key, cb("ca", "status", p.id, value))])
    back_data = cb("c", "l", back.source, back.anchor) if back else cb("c", "home")
    rows.append([button(lang, "btn.back", back_data), button(lang, "btn.menu", cb("m", "menu"))])
    return InlineKeyboardMarkup(rows)


def share_text(lang: str, found: Card, bot_username: str) -> str:
    """The caption of the QR code photo: a caption holds 1,024 characters, not 4,096."""
    url = link(bot_username, "p", str(found.program.id))
    text = tr(lang, "catalog.share_text", title=Plain(title_of(lang, found)), link=escape(url))
    return text.fit(CAPTION_LIMIT)


def program_link(bot_username: str, program_id: int) -> str:
    return link(bot_username, "p", str(program_id))


def share_photo(lang: str, found: Card, bot_username: str) -> tuple[bytes, str]:
    """A QR code of the programme's deep link (PNG) and its caption."""
    png = io.BytesIO()
    segno.make(program_link(bot_username, found.program.id), error="m").save(
        png, kind="png", scale=6, border=2
    )
    return png.getvalue(), share_text(lang, found, bot_username)


def with_home(person: Person, key: str) -> Screen:
    """A notice above the catalogue's home (a link to a programme that is gone)."""
    shown = home(person)
    return Screen(t(person.language, key) + "\n\n" + shown.text, shown.keyboard)


# Admin screens -----------------------------------------------------------------------------


def field_menu(lang: str, program_id: int) -> Screen:
    rows = [
        [
            InlineKeyboardButton(
                t(lang, f"field.{name}"), callback_data=cb("ca", "field", program_id, name)
            )
        ]
        for name in TEXT_FIELDS
    ]
    rows.append([button(lang, "btn.back", cb("c", "p", program_id))])
    return Screen(t(lang, "program.which_field"), InlineKeyboardMarkup(rows))


def owner_menu(lang: str, program_id: int, people: list[User], page_no: int, pages: int) -> Screen:
    rows = [
        [
            InlineKeyboardButton(
                _label(u.first_name or str(u.id)),
                callback_data=cb("ca", "owner", program_id, u.id),
            )
        ]
        for u in people
    ]
    rows += pager(
        lang,
        cb("ca", "owners", program_id, page_no - 1) if page_no > 1 else None,
        cb("ca", "owners", program_id, page_no + 1) if page_no < pages else None,
    )
    rows.append([button(lang, "btn.back", cb("c", "p", program_id))])
    key = "program.pick_owner" if people else "program.no_teachers"
    return Screen(t(lang, key), InlineKeyboardMarkup(rows))


MAX_ERROR_LINES = 30  # an import report lists at most this many problems (as many as fit)


def import_report(report: ImportReport, name: str, fmt: FileFormat, lang: str) -> Screen:
    if report.ok:
        return Screen(
            tr(
                lang,
                "files.report_ok",
                name=Plain(name),
                created=report.created,
                updated=report.updated,
                unchanged=report.unchanged,
                departments=report.departments_created,
            ).fit()
        )
    label = "files.item" if fmt is FileFormat.YAML else "files.row"
    head = tr(
        lang, "files.report_rejected", name=Plain(name), bad=report.bad_rows, total=report.rows
    )
    lines = [
        t(lang, label, row=error.row, reason=error.text(lang, html=True))
        for error in report.errors[:MAX_ERROR_LINES]
    ]
    text = fit_lines(
        head + "\n",
        lines,
        more=lambda n: t(lang, "files.more", count=n),
        hidden=len(report.errors) - len(lines),
    )
    return Screen(text)


def upload_refused(lang: str, name: str, refused: FileError) -> Screen:
    """A file refused as a whole: of a type we do not read, or not readable as ours."""
    if refused.key == "files.wrong_type":
        return Screen(t(lang, refused.key, formats=escape(ACCEPTED)))
    reason = render(refused.key, refused.values, lang, html=True)
    return Screen(t(lang, "files.file_rejected", name=escape(name), reason=reason))
