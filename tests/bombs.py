"""Hostile programme files, built here rather than stored: each is what an attacker (or a
broken exporter) could upload, small on the wire and huge or slow once read."""

from __future__ import annotations

import functools
import io
import os
import zipfile

HEADER = ("code", "kind", "department_code", "title_en")


def laughs(levels: int = 9) -> bytes:
    """The "billion laughs": each level an alias list of ten of the level below, and a
    programme whose title is the top one (10**levels strings once anything walks it)."""
    lines = ['- a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        aliases = ",".join([f"*a{level - 1}"] * 10)
        lines.append(f"- a{level}: &a{level} [{aliases}]")
    lines.append(f"- {{code: X, kind: training, department_code: D, title_en: *a{levels - 1}}}")
    return ("\n".join(lines) + "\n").encode()


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
_TYPES = (
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_ROOT_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_BOOK = (
    f'<workbook xmlns="{MAIN}" xmlns:r="{_REL}"><sheets>'
    '<sheet name="programs" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)


def xlsx(
    sheet: bytes, strings: bytes | None = None, extra: dict[str, bytes] | None = None
) -> bytes:
    """A workbook of our own making, part by part (deflated fast: bombs are large)."""
    parts = {
        "[Content_Types].xml": _TYPES.encode(),
        "_rels/.rels": _ROOT_RELS.encode(),
        "xl/workbook.xml": _BOOK.encode(),
        "xl/_rels/workbook.xml.rels": _BOOK_RELS.encode(),
        SHEET: sheet,
        STRINGS: strings if strings is not None else shared_strings([]),
        **(extra or {}),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def shared_strings(texts: list[bytes]) -> bytes:
    items = b"".join(b"<si><t>" + text + b"</t></si>" for text in texts)
    return f'<sst xmlns="{MAIN}">'.encode() + items + b"</sst>"


def sheet_xml(rows: bytes, dimension: str = "A1:D2") -> bytes:
    head = f'<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/><sheetData>'
    return head.encode() + rows + b"</sheetData></worksheet>"


def inline_row(number: int, values: list[str]) -> bytes:
    cells = "".join(
        f'<c r="{_column(index)}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
        for index, value in enumerate(values, start=1)
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def _column(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def header_rows() -> bytes:
    """The header and one good programme, as rows 1 and 2."""
    return inline_row(1, list(HEADER)) + inline_row(2, ["A", "training", "D", "ok"])


def workbook(rows: int = 0) -> bytes:
    """A good workbook: the header, one programme and `rows` more."""
    more = b"".join(
        inline_row(n, [f"P-{n}", "training", "D", f"Programme {n}"]) for n in range(3, 3 + rows)
    )
    return xlsx(sheet_xml(header_rows() + more, f"A1:D{2 + rows}"))


@functools.cache  # built once per test run
def zip_bomb() -> bytes:
    """A sheet of 100 MB of empty rows: a few hundred KB deflated."""
    filler = b"<row/>" * (100 * 1024 * 1024 // 6)
    return xlsx(sheet_xml(header_rows() + filler))


@functools.cache  # built once per test run
def tight_bomb() -> bytes:
    """Within the unpacked total, but one shared string of 30 MB of one letter."""
    return xlsx(sheet_xml(header_rows()), shared_strings([b"A" * (30 * 1024 * 1024)]))


@functools.cache  # built once per test run
def cell_bomb(cells: int = 400_000) -> bytes:
    """The sheet of the issue: a few hundred KB holding 400,000 cells, each showing one of
    ten shared strings (random enough to compress only some 40 to 1). openpyxl builds an
    object for every cell."""
    width = 64
    picks = os.urandom(cells)
    rows = []
    for start in range(0, cells, width):
        row = b"".join(
            b'<c t="s"><v>%d</v></c>' % (pick % 10) for pick in picks[start : start + width]
        )
        rows.append(b"<row>" + row + b"</row>")
    strings = shared_strings([b"%d" % n for n in range(10)])
    return xlsx(sheet_xml(header_rows() + b"".join(rows), "A1:BL6252"), strings)


@functools.cache  # built once per test run
def markup_bomb(tags: int = 3_100_000) -> bytes:
    """An extra part of three million tiny elements, random enough to compress only four
    to one."""
    names = [f"<{chr(ord('a') + i)}/>".encode() for i in range(16)]
    body = b"".join(names[byte & 15] for byte in os.urandom(tags))
    return xlsx(sheet_xml(header_rows()), extra={"xl/custom.xml": b"<x>" + body + b"</x>"})


def dimension_bomb() -> bytes:
    """A sheet that declares more rows than Excel has."""
    return xlsx(sheet_xml(header_rows(), "A1:D99999999"))


def far_row_bomb() -> bytes:
    """A row numbered a billion: openpyxl would yield every empty row before it."""
    return xlsx(sheet_xml(header_rows() + inline_row(1_000_000_000, ["B", "training", "D", "x"])))


def entity_bomb() -> bytes:
    """XML entities (the original billion laughs) in the shared strings."""
    entities = b"".join(
        b'<!ENTITY l%d "%s">' % (level, b"&l%d;" % (level - 1) * 10) for level in range(1, 10)
    )
    doctype = b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY l0 "lol">' + entities + b"]>"
    return xlsx(sheet_xml(header_rows()), doctype + shared_strings([b"&l9;"]))


def many_parts() -> bytes:
    return xlsx(
        sheet_xml(header_rows()), extra={f"xl/media/p{n}.xml": b"<p/>" for n in range(1_001)}
    )


def text_bomb() -> bytes:
    """600 cells that each show one 9,000-character shared string: 5.4 M characters of
    text from a file of a few KB."""
    rows = b"".join(
        b'<row r="%d"><c r="D%d" t="s"><v>0</v></c></row>' % (n, n) for n in range(3, 603)
    )
    return xlsx(sheet_xml(header_rows() + rows, "A1:D602"), shared_strings([b"x" * 9_000]))


@functools.cache  # built once per test run
def issue_bomb(rows: int = 2_500, width: int = 64, text: int = 1_000) -> bytes:
    """The shape of the issue's file: rows of 64 inline strings of 1,000 letters each,
    written a row at a time (never whole in memory): some 400 KB that unpack to 160 MB.
    The old reader took 30 s and 700 MB on four times as many rows."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with zipfile.ZipFile(io.BytesIO(workbook())) as source:
            for info in source.infolist():
                if info.filename != SHEET:
                    archive.writestr(info.filename, source.read(info.filename))
        with archive.open(SHEET, "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            sheet.write(inline_row(1, list(HEADER)))
            cell = b'<c t="inlineStr"><is><t>' + b"x" * text + b"</t></is></c>"
            row = b"<row>" + cell * width + b"</row>"
            for _ in range(rows):
                sheet.write(row)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()
