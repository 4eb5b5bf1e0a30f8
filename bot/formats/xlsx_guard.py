"""An .xlsx archive checked before openpyxl opens it: zip bombs and absurd sheets.

An .xlsx is a zip of XML parts, and openpyxl trusts it: it unpacks the shared strings and
styles whole and builds a Python object for every cell element, so a few hundred KB that
unpack to gigabytes, or hold millions of cells, cost minutes and gigabytes. This module
reads the zip's directory, then streams each XML part through zlib a megabyte at a time
and only counts bytes: no XML parsing, no per-cell Python work.

Limits (a full catalogue, 10,001 rows of 15 columns, stays far inside each one):
- at most 1,000 parts (MAX_PARTS), unpacking to at most 64 MB in all (MAX_UNPACKED), as
  the zip's directory declares them. The declaration binds: Python's zipfile never returns
  more than a part's declared size (and fails its CRC if there was more), and openpyxl
  reads through zipfile;
- a part over 1 MB may be compressed at most 100 to 1 (MAX_RATIO; Apache POI's rule too):
  real sheets compress 5–20 to 1, bombs 1,000 to 1;
- at most 300,000 cells in any part (MAX_CELLS, twice a full catalogue) and 3,000,000
  elements in all (MAX_TAGS): openpyxl's time grows with these, not with bytes;
- no DTD (`<!DOCTYPE`, `<!ENTITY`): Office never writes one, and entities are how an XML
  bomb expands;
- a declared sheet dimension within Excel's own 1,048,576 rows and 16,384 columns. A
  larger declared range within those is normal (Excel counts formatted empty rows), so it
  is not refused; the reader ignores it and reads what the cells say.
"""

from __future__ import annotations

import io
import re
import zipfile

from bot.formats.spreadsheets import EXCEL_MAX_ROWS, FileError

MAX_PARTS = 1_000
MAX_UNPACKED = 64 * 1024 * 1024
MAX_RATIO = 100
RATIO_FROM = 1024 * 1024  # smaller parts may be as compressible as they like
MAX_CELLS = 300_000
MAX_TAGS = 3_000_000
EXCEL_MAX_COLUMNS = 16_384
CHUNK = 1024 * 1024

# A cell element, with or without a namespace prefix (`<c r="A1">`, `<x:c r="A1">`). The
# prefix itself is not matched, so a long one cannot hide a cell across a chunk boundary;
# ":c " in text only over-counts.
_CELL = re.compile(rb"[<:]c[ \t\r\n/>]")
_CELL_CARRY = 2  # a cell match is 3 bytes: a 2-byte carry can never hold a whole one
_DTD = (b"<!DOCTYPE", b"<!ENTITY")
_DTD_CARRY = 8
_DIMENSION = re.compile(rb"<(?:[\w.-]+:)?dimension\s[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
_REF = re.compile(r"\$?([A-Za-z]*)\$?(\d*)")
XML_SUFFIXES = (".xml", ".rels", ".vml")


def check_archive(data: bytes) -> None:
    """Raise FileError if the archive is not a workbook openpyxl can safely read."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileError("files.bad_xlsx") from None
    with archive:
        parts = archive.infolist()
        if len(parts) > MAX_PARTS:
            raise FileError("files.xlsx_too_many_parts", limit=f"{MAX_PARTS:,}")
        if sum(part.file_size for part in parts) > MAX_UNPACKED:
            raise FileError("files.xlsx_unpacked_too_big", limit=MAX_UNPACKED // (1024 * 1024))
        for part in parts:
            if part.file_size > RATIO_FROM and part.file_size > MAX_RATIO * part.compress_size:
                raise FileError("files.xlsx_packed_too_tight", limit=MAX_RATIO)
        tags = 0
        for part in parts:
            if part.filename.lower().endswith(XML_SUFFIXES):
                tags += _scan(archive, part, MAX_TAGS - tags)


def _scan(archive: zipfile.ZipFile, part: zipfile.ZipInfo, tags_left: int) -> int:
    """Count one XML part's elements and cells, a chunk at a time; return its elements."""
    tags = cells = 0
    cell_tail = dtd_tail = b""
    first = True
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(CHUNK):
                if first:
                    _check_dimension(chunk[:65536])
                    first = False
                tags += chunk.count(b"<")
                if tags > tags_left:
                    raise FileError("files.xlsx_too_complex", limit=f"{MAX_TAGS:,}")
                window = cell_tail + chunk
                cells += len(_CELL.findall(window))
                if cells > MAX_CELLS:
                    raise FileError("files.xlsx_too_many_cells", limit=f"{MAX_CELLS:,}")
                window = dtd_tail + chunk
                if any(marker in window for marker in _DTD):
                    raise FileError("files.bad_xlsx")
                cell_tail, dtd_tail = chunk[-_CELL_CARRY:], chunk[-_DTD_CARRY:]
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
        # A wrong CRC, a size that lies, encryption, an unknown compression method.
        raise FileError("files.bad_xlsx") from None
    return tags


def _check_dimension(head: bytes) -> None:
    """A worksheet's <dimension ref="A1:BL1048576"> is near its start; refuse a range
    beyond what Excel can hold (only forged files declare one)."""
    found = _DIMENSION.search(head)
    if found is None:
        return
    for ref in found.group(1).decode("ascii", "replace").split(":"):
        match = _REF.fullmatch(ref.strip())
        if match is None:
            raise FileError("files.bad_xlsx")
        letters, digits = match.groups()
        if len(letters) > 3 or len(digits) > 7:
            raise FileError("files.xlsx_dimension")
        if digits and int(digits) > EXCEL_MAX_ROWS:
            raise FileError("files.xlsx_dimension")
        if letters and _column_number(letters) > EXCEL_MAX_COLUMNS:
            raise FileError("files.xlsx_dimension")


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number
