"""Records and JSON builders of the fake Bot API: calls, files, messages, HTML checks."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

JSON = dict[str, Any]

BOT_ID = 7000001
BOT_USERNAME = "partnerbot_test_bot"
BOT_FIRST_NAME = "Partnerbot Test"


class ApiError(Exception):
    """A Telegram-shaped error answer: ``{"ok": false, "error_code": .., "description": ..}``."""

    def __init__(
        self,
        code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        if self.migrate_to_chat_id is not None:
            body["parameters"] = {"migrate_to_chat_id": self.migrate_to_chat_id}
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass
class Call:
    """One HTTP call to the fake API (the token never stored)."""

    method: str
    params: JSON
    time: float
    status: int = 200


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes
    filename: str | None = None
    mime_type: str | None = None

    @property
    def file_path(self) -> str:
        return f"files/{self.file_unique_id}/{self.filename or 'file'}"

    def document_json(self) -> JSON:
        doc: JSON = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if self.filename:
            doc["file_name"] = self.filename
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        return doc

    def photo_json(self) -> list[JSON]:
        width, height = image_size(self.content)
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": len(self.content),
                "width": width,
                "height": height,
            }
        ]

    def file_json(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, else a plausible default."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 512, 512


@dataclass
class SentMessage:
    """A message as the user sees it in the chat (bot messages; also user messages internally)."""

    chat_id: int
    message_id: int
    raw_text: str | None = None  # the text (or caption) exactly as the bot sent it
    parse_mode: str | None = None
    entities: list[JSON] | None = None
    reply_markup: list[list[JSON]] = field(default_factory=list)  # inline keyboard rows
    raw_markup: JSON | None = None  # any reply_markup as sent (reply keyboards too)
    document: StoredFile | None = None
    photo: bytes | None = None
    photo_file: StoredFile | None = None
    edits: int = 0
    deleted: bool = False
    date: int = 0
    from_bot: bool = True
    payload: JSON = field(default_factory=dict)  # the JSON Message last returned for it
    # An event that only took the inline keyboard off (an earlier form question's): the
    # user sees the buttons go, but there is nothing new to read, so expect_message
    # passes over it (the message's live state shows it).
    keyboard_off: bool = False
    # The message it replies to (as Telegram keeps it in the Message, edits included).
    reply_to: JSON | None = None
    thread_id: int | None = None  # the forum topic it is in (None: General, or no forum)
    reactions: list[str] = field(default_factory=list)  # the bot's reaction emoji on it

    @property
    def text(self) -> str:
        """The text (or caption) as displayed: HTML tags stripped, entities unescaped."""
        if self.raw_text is None:
            return ""
        if (self.parse_mode or "").lower() == "html":
            try:
                return parse_html(self.raw_text)
            except ApiError:
                return self.raw_text
        return self.raw_text

    @property
    def shown_entities(self) -> list[JSON] | None:
        """The entities Telegram reports: those sent, or those the HTML made (UTF-16)."""
        if self.raw_text is not None and (self.parse_mode or "").lower() == "html":
            try:
                return parse_html_entities(self.raw_text)[1] or None
            except ApiError:
                return None
        return self.entities

    @property
    def document_name(self) -> str | None:
        return self.document.filename if self.document else None

    @property
    def document_bytes(self) -> bytes | None:
        return self.document.content if self.document else None

    @property
    def document_mime(self) -> str | None:
        return self.document.mime_type if self.document else None

    @property
    def caption(self) -> str | None:
        return self.raw_text if (self.document or self.photo_file) else None

    def buttons(self) -> list[tuple[str, str | None]]:
        """Inline buttons flattened: (label, callback_data or url (a Mini App's too) or None)."""
        return [
            (
                str(b.get("text", "")),
                b.get("callback_data", b.get("url", (b.get("web_app") or {}).get("url"))),
            )
            for row in self.reply_markup
            for b in row
        ]

    def button_labels(self) -> list[str]:
        return [label for label, _ in self.buttons()]

    def __repr__(self) -> str:
        extra = " deleted" if self.deleted else ""
        extra += f" edits={self.edits}" if self.edits else ""
        extra += f" document={self.document.filename!r}" if self.document else ""
        extra += " photo" if self.photo else ""
        return (
            f"<SentMessage #{self.message_id}{extra} text={self.text[:200]!r}"
            f" buttons={self.button_labels()}>"
        )


def bot_user_json() -> JSON:
    return {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def message_json(msg: SentMessage, chat: JSON, sender: JSON) -> JSON:
    out: JSON = {
        "message_id": msg.message_id,
        "date": msg.date,
        "chat": chat,
        "from": sender,
    }
    if msg.edits:
        out["edit_date"] = int(time.time())
    body_key = "caption" if (msg.document or msg.photo_file) else "text"
    if msg.raw_text is not None:
        out[body_key] = msg.text
        entities = msg.shown_entities
        if entities:
            out["entities" if body_key == "text" else "caption_entities"] = entities
    if msg.document:
        out["document"] = msg.document.document_json()
    if msg.photo_file:
        out["photo"] = msg.photo_file.photo_json()
    if msg.raw_markup is not None and "inline_keyboard" in msg.raw_markup:
        out["reply_markup"] = msg.raw_markup
    if msg.reply_to is not None:
        out["reply_to_message"] = msg.reply_to
    if msg.thread_id is not None:
        out["message_thread_id"], out["is_topic_message"] = msg.thread_id, True
    return out


@dataclass
class ForumTopic:
    """A topic of a forum supergroup; its id is the id of the service message opening it."""

    thread_id: int
    name: str
    icon_color: int = 0x6FB9F0
    closed: bool = False
    deleted: bool = False
    renames: list[str] = field(default_factory=list)  # every name it was given, in order

    def json(self) -> JSON:
        return {"message_thread_id": self.thread_id, "name": self.name,
                "icon_color": self.icon_color}  # fmt: skip


# Telegram's colours for a topic's icon, and some of the emoji a bot may react with.
TOPIC_COLORS = frozenset({0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F})
REACTION_EMOJI = frozenset(
    "👍👎❤🔥🥰👏😁🤔🤯😱🤬😢🎉🤩🙏👌🕊🤡🥱🥴😍🐳🌚🌭💯🤣⚡🍌🏆💔🤨😐🍓"
    "🍾💋🖕😈😴😭🤓👻👀🎃🙈😇😨🤝✍🤗🫡🎅🎄☃💅🤪🗿🆒💘🙉🦄😘💊🙊😎👾🤷😡"
)


def command_entities(text: str) -> list[JSON]:
    """A bot_command entity for a leading /command (with an optional @botname)."""
    match = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?", text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- Telegram's HTML flavour -------------------------------------------------------------

ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji",
}  # fmt: skip
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)"
    r"\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_SPECIAL = re.compile(r"[&<]")


def parse_html(text: str) -> str:
    """Validate like Telegram's HTML parse mode; return the displayed text.

    Raises ApiError(400, "Bad Request: can't parse entities: ...") on errors.
    """
    return parse_html_entities(text)[0]


# Tag → entity type, as Telegram reports them (span/tg-spoiler and blockquote need attrs).
_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "a": "text_link", "code": "code", "pre": "pre",
    "tg-spoiler": "spoiler", "span": "spoiler", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}  # fmt: skip


def parse_html_entities(text: str) -> tuple[str, list[JSON]]:
    """The displayed text and its entities, offsets and lengths in UTF-16 code units as
    Telegram reports them (the length limits, unlike offsets, count code points)."""

    def fail(reason: str, pos: int) -> ApiError:
        offset = len(text[:pos].encode("utf-8"))
        return bad_request(f"can't parse entities: {reason} at byte offset {offset}")

    out: list[str] = []
    at = 0  # UTF-16 position in the output
    stack: list[tuple[str, int, JSON | None]] = []  # tag, where, entity (offset = start)
    found: list[JSON] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "&":
            entity = _ENTITY.match(text, pos)
            if not entity:
                raise fail("Unsupported HTML entity or bare '&'", pos)
            shown = html.unescape(entity.group(0))
            out.append(shown)
            at += utf16_len(shown)
            pos = entity.end()
        elif ch == "<":
            tag = _TAG.match(text, pos)
            if not tag:
                raise fail("Unexpected '<' (use &lt;)", pos)
            closing, name, attrs = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
            if closing:
                _close(name, stack, at, found, partial(fail, pos=pos))
            else:
                if name not in ALLOWED_TAGS:
                    raise fail(f'Unsupported start tag "{name}"', pos)
                values = _check_attrs(name, attrs, lambda reason, p=pos: fail(reason, p))
                stack.append((name, pos, _entity(name, values, at, stack)))
            pos = tag.end()
        else:  # a run of plain text up to the next tag or entity, in one step
            special = _SPECIAL.search(text, pos)
            end = special.start() if special else len(text)
            out.append(text[pos:end])
            at += utf16_len(text[pos:end])
            pos = end
    if stack:
        name, where, _ = stack[-1]
        raise fail(f'Can\'t find end tag corresponding to start tag "{name}"', where)
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), found


def _close(
    name: str, stack: list[tuple[str, int, JSON | None]], at: int, found: list[JSON],
    fail: Callable[[str], ApiError],
) -> None:  # fmt: skip
    """An end tag: it must close the innermost open tag; its entity ends here."""
    if not stack:
        raise fail(f'Unexpected end tag "{name}"')
    if stack[-1][0] != name:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    _, _, made = stack.pop()
    if made is not None and at > made["offset"]:  # empty entities are dropped
        made["length"] = at - made["offset"]
        found.append(made)


def _entity(
    name: str, values: dict[str, str], offset: int, stack: list[tuple[str, int, JSON | None]]
) -> JSON | None:
    if name == "code" and stack and stack[-1][0] == "pre":
        language = values.get("class", "")
        pre = stack[-1][2]
        if language.startswith("language-") and pre is not None:
            pre["language"] = language[len("language-") :]
        return None  # <pre><code>: one pre entity
    kind = _ENTITY_TYPES[name]
    if name == "blockquote" and "expandable" in values:
        kind = "expandable_blockquote"
    entity: JSON = {"type": kind, "offset": offset}
    if name == "a":
        entity["url"] = html.unescape(values["href"])
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = values["emoji-id"]
    return entity


def _check_attrs(name: str, attrs: str, fail: Any) -> dict[str, str]:
    values = {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in
              _ATTR.finditer(attrs)}  # fmt: skip
    if name == "a" and not values.get("href"):
        raise fail('Tag "a" must have attribute "href"')
    if name == "span" and values.get("class") != "tg-spoiler":
        raise fail('Tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and not values.get("emoji-id"):
        raise fail('Tag "tg-emoji" must have attribute "emoji-id"')
    return values
