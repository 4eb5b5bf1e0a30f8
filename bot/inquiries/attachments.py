"""Files a contact sends with a question: a spec sheet, a brochure, a photo.

We never download them: Telegram keeps the file, and the staff get it sent on by its
file_id (sendDocument/sendPhoto), so the bot's own 20 MB download limit is not the
bound; ours is what a question reasonably carries, said to the contact when refused:
- at most MAX_FILES files a question, each at most MAX_BYTES (20 MB);
- photos, and documents of the kinds in ALLOWED (PDF, Office and OpenDocument, plain
  text and CSV, images, ZIP), judged by the file name's extension, since the MIME type
  is the sender's claim as much as the name is, and the name is what staff will open.
"""

from __future__ import annotations

from typing import Any

from bot.ui.errors import FieldError
from bot.ui.text import clip_text

MAX_FILES = 5
MAX_BYTES = 20 * 1024 * 1024
NAME_CHARS = 80  # a name as kept and shown (Telegram allows longer; staff need no more)
ALLOWED = frozenset(
    (
        "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf",
        "txt", "csv", "jpg", "jpeg", "png", "gif", "webp", "heic", "zip",
    )
)  # fmt: skip
KINDS = ("photo", "document")


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def accept(kind: str, file_id: str, name: str | None, size: int | None) -> dict[str, Any]:
    """One file as kept with the question ({"kind", "file_id", "name", "size"}), or
    FieldError saying why not (too big, a kind we do not take)."""
    if kind not in KINDS or not file_id or len(file_id) > 200:
        raise FieldError("attach.kind_refused")
    if size is not None and size > MAX_BYTES:
        raise FieldError("attach.too_big", size=megabytes(size), limit=megabytes(MAX_BYTES))
    shown = clip_text(name or "", NAME_CHARS) if name else ""
    if kind == "document":
        ext = extension(name or "")
        if ext not in ALLOWED:
            raise FieldError("attach.kind_refused")  # the message lists what we take
    else:
        shown = shown or "photo.jpg"
    return {"kind": kind, "file_id": file_id, "name": shown, "size": int(size or 0)}


def attach(data: dict[str, Any], file: dict[str, Any]) -> None:
    """Add a file to a form's data (the question form's hook), at most MAX_FILES."""
    files = list(data.get("attachments") or [])
    if len(files) >= MAX_FILES:
        raise FieldError("attach.too_many", limit=MAX_FILES)
    checked = accept(
        str(file.get("kind", "")), str(file.get("file_id", "")),
        file.get("name"), file.get("size"),
    )  # fmt: skip
    if all(f["file_id"] != checked["file_id"] for f in files):  # the same file twice: once
        files.append(checked)
    data["attachments"] = files


def kept(raw: object) -> list[dict[str, Any]]:
    """Attachments from form data, checked again (data could predate a limit)."""
    if not isinstance(raw, list):
        return []
    out: list[dict[str, Any]] = []
    for item in raw[:MAX_FILES]:
        if isinstance(item, dict):
            out.append(
                accept(str(item.get("kind")), str(item.get("file_id")), item.get("name"),
                       item.get("size"))
            )  # fmt: skip
    return out


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"
