"""A fake Telegram Bot API server on 127.0.0.1 (tornado, in the running asyncio loop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx
import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web

from .models import (
    BOT_USERNAME,
    JSON,
    REACTION_EMOJI,
    TOPIC_COLORS,
    ApiError,
    Call,
    ForumTopic,
    SentMessage,
    StoredFile,
    bad_request,
    bot_user_json,
    chat_type,
    message_json,
    parse_html,
)
from .users import FakeGroup, FakeUser

log = logging.getLogger("tests.fakebot")

# Values of these parameters are never JSON-decoded when they arrive as form fields.
TEXT_PARAMS = {
    "text", "caption", "description", "short_description", "name", "title", "url",
    "secret_token", "callback_query_id", "file_id", "parse_mode", "language_code", "action",
    "document", "photo", "inline_message_id", "ip_address", "query", "emoji",
    "icon_custom_emoji_id",
}  # fmt: skip
SENDING = {
    "sendmessage", "senddocument", "sendphoto", "copymessage", "forwardmessage",
    "editmessagetext", "editmessagereplymarkup", "editmessagecaption",
}  # fmt: skip
UPDATE_TYPES = (
    "message", "edited_message", "callback_query", "channel_post", "edited_channel_post",
    "inline_query", "chosen_inline_result", "my_chat_member", "chat_member",
)  # fmt: skip
INLINE_ANSWER_SECONDS = 10.0  # how long Telegram waits for the answer to an inline query
INLINE_RESULT_TYPES = frozenset({
    "article", "photo", "gif", "mpeg4_gif", "video", "audio", "voice", "document",
    "location", "venue", "contact", "game", "sticker",
})  # fmt: skip
_TOKEN_IN_PATH = re.compile(r"/bot[^/]*")


def redact(path: str) -> str:
    return _TOKEN_IN_PATH.sub("/bot<token>", path)


class _Window:
    """A sliding-window rate limit: at most `limit` events per `period` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period, self.times = limit, period, deque[float]()

    def full(self, now: float) -> bool:
        while self.times and now - self.times[0] >= self.period:
            self.times.popleft()
        return len(self.times) >= self.limit

    def retry_after(self, now: float) -> int:
        return max(1, int(self.period - (now - self.times[0]) + 0.999)) if self.times else 1


class _ApiHandler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def get(self, token: str, method: str) -> None:
        status, body = await self.fake._dispatch(token, method, self.request)
        try:
            text = json.dumps(body, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            log.error("fake Bot API cannot serialise its answer to %s: %s", method, exc)
            status, text = 500, json.dumps({"ok": False, "error_code": 500,
                                            "description": "Internal Server Error"})  # fmt: skip
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        with contextlib.suppress(Exception):
            await self.finish(text)

    post = get

    def _request_summary(self) -> str:
        return f"{self.request.method} {redact(self.request.path)}"


class _FileHandler(tornado.web.RequestHandler):
    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake

    def get(self, token: str, path: str) -> None:
        if token != self.fake.token:
            self.set_status(401)
            self.finish(ApiError(401, "Unauthorized").payload())
            return
        stored = self.fake._files_by_path.get(path)
        if stored is None:
            self.set_status(404)
            self.finish(ApiError(404, "Not Found").payload())
            return
        self.set_header("Content-Type", stored.mime_type or "application/octet-stream")
        self.finish(stored.content)

    def _request_summary(self) -> str:
        return f"{self.request.method} {redact(self.request.path)}"


class FakeTelegram:
    """The Bot API as seen by one bot, plus the world of users talking to it."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        rate_limit_global: int | None = None,
        rate_limit_per_chat: int | None = None,
        rate_limit_group_per_minute: int | None = None,
    ) -> None:
        self.token = token
        self.port = 0
        self.calls: list[Call] = []
        self.stats: Counter[str] = Counter()
        self.commands: dict[tuple[str, str | None], list[JSON]] = {}
        self.settings: dict[str, Any] = {}  # descriptions, menu button, name...
        self.webhook_info: JSON = {"url": ""}
        self.callback_answers: dict[str, JSON] = {}
        self.inline_answers: dict[str, JSON] = {}  # inline query id → answerInlineQuery
        self._inline_asked: dict[str, float] = {}  # inline query id → when it was sent
        self.users: dict[int, FakeUser] = {}
        self.groups: dict[int, FakeGroup] = {}
        self._rate_global = rate_limit_global
        self._rate_chat = rate_limit_per_chat
        self._rate_group = rate_limit_group_per_minute or (20 if rate_limit_per_chat else None)
        self._windows: dict[Any, _Window] = {}
        self._inject: list[int] = []  # retry_after values of injected 429s
        self._failures: dict[str, list[ApiError]] = {}  # method (lower case) → errors
        self._latency: dict[str, float] = {}  # method (lower case) → seconds before answering
        self._blocked: set[int] = set()
        self._migrated: dict[int, int] = {}  # group id → its supergroup's id
        self._kicked: set[int] = set()  # groups the bot was removed from
        self._chats: dict[int, JSON] = {}
        self.topics: dict[int, dict[int, ForumTopic]] = {}  # forum id → thread id → topic
        self._messages: dict[int, dict[int, SentMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._events: dict[int, list[SentMessage]] = {}
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._histogram: Counter[int] = Counter()
        self._tick = asyncio.Event()
        self._stopping = False
        self._server: tornado.httpserver.HTTPServer | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._methods: dict[str, Callable[[JSON], Awaitable[Any]]] = {
            name[len("api_") :].lower(): getattr(self, name)
            for name in dir(self)
            if name.startswith("api_")
        }

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        self._tick = asyncio.Event()
        app = tornado.web.Application(
            [
                (r"/bot([^/]*)/([A-Za-z0-9_]+)", _ApiHandler, {"fake": self}),
                (r"/file/bot([^/]*)/(.+)", _FileHandler, {"fake": self}),
            ],
            log_function=self._log_request,
        )
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        self._stopping = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._server is not None:
            self._server.stop()
            await asyncio.sleep(0)  # let woken long polls answer before connections close
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_username(self) -> str:
        return BOT_USERNAME

    # --- the world -----------------------------------------------------------------------

    def user(self, user_id: int, **profile: Any) -> FakeUser:
        """The user with this id (created on first use; later keyword arguments update it)."""
        if user_id not in self.users:
            self.users[user_id] = FakeUser(self, user_id, **profile)
        else:
            for key, value in profile.items():
                setattr(self.users[user_id], key, value)
        self._chats[user_id] = self.users[user_id].chat_json()
        return self.users[user_id]

    def group(
        self, chat_id: int, title: str = "Group", *, is_forum: bool | None = None
    ) -> FakeGroup:
        """A group; `is_forum` makes it a forum supergroup (topics on), as its admins can."""
        if chat_id not in self.groups:
            self.groups[chat_id] = FakeGroup(self, chat_id, title)
        if is_forum is not None:
            if is_forum and chat_type(chat_id) != "supergroup":
                raise ValueError("only a supergroup (-100…) can be a forum")
            self.groups[chat_id].is_forum = is_forum
        self._chats[chat_id] = self.groups[chat_id].chat_json()
        return self.groups[chat_id]

    def topic(self, chat_id: int, thread_id: int) -> ForumTopic:
        return self.topics[chat_id][thread_id]

    def topic_named(self, chat_id: int, prefix: str) -> ForumTopic:
        """The one live topic whose name starts with `prefix` (e.g. "#3 ")."""
        found = [t for t in self.topics.get(chat_id, {}).values()
                 if t.name.startswith(prefix) and not t.deleted]  # fmt: skip
        if len(found) != 1:
            raise AssertionError(f"{len(found)} live topics named {prefix!r}…: {found}")
        return found[0]

    def in_topic(self, chat_id: int, thread_id: int) -> list[SentMessage]:
        """The bot's messages in one topic, oldest first."""
        return [m for m in self.chat(chat_id) if m.thread_id == thread_id]

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A member deletes the topic with everything in it. Telegram tells bots nothing."""
        self._delete_topic(chat_id, thread_id)

    def push_update(self, kind: str, body: JSON) -> JSON:
        """Queue an arbitrary update, e.g. {"channel_post": …} or a forged one, as is."""
        return self._queue(kind, body)

    def block(self, user_id: int) -> None:
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def fail_next(self, method: str, code: int, description: str, count: int = 1) -> None:
        """The next `count` calls of `method` answer this Telegram error (e.g. 400
        "Bad Request: …"), as a flaky or surprised Telegram would."""
        self._failures.setdefault(method.lower(), []).extend([ApiError(code, description)] * count)

    def slow(self, method: str, seconds: float) -> None:
        """Answer `method` only after `seconds`, as a far-away Telegram would: shows
        whether the bot waits for one call before making the next."""
        self._latency[method.lower()] = seconds

    def migrate_group(
        self, chat_id: int, new_chat_id: int, *, by: FakeUser | None = None, notify: bool = True
    ) -> FakeGroup:
        """The group's admins upgrade it to a supergroup, which has a new id. From then on
        every call naming the old id answers 400 with parameters.migrate_to_chat_id (PTB
        raises ChatMigrated). With `notify`, the bot gets the service messages Telegram
        sends: migrate_to_chat_id in the old group, migrate_from_chat_id in the new one."""
        old = self.groups[chat_id]
        new = self.group(new_chat_id, title=old.title)
        self._migrated[chat_id] = new_chat_id
        if notify:
            sender = (by or self._someone()).user_json()
            self._queue("message", old._message_payload(sender, migrate_to_chat_id=new_chat_id))
            self._queue("message", new._message_payload(sender, migrate_from_chat_id=chat_id))
        return new

    def remove_bot(self, chat_id: int, *, by: FakeUser | None = None, notify: bool = True) -> None:
        """Someone removes the bot from the group: sends there answer 403 "bot was kicked";
        with `notify`, the bot gets the my_chat_member update Telegram sends."""
        self._kicked.add(chat_id)
        if notify:
            self._member_update(chat_id, by, "member", "kicked")

    def add_bot(self, chat_id: int, *, by: FakeUser | None = None, notify: bool = True) -> None:
        """The bot is added (back) to the group, as a plain member."""
        self._kicked.discard(chat_id)
        self.group(chat_id, title=self.groups[chat_id].title if chat_id in self.groups else "Group")
        if notify:
            self._member_update(chat_id, by, "left", "member")

    def _someone(self) -> FakeUser:
        return self.user(1, first_name="Group admin")

    def _member_update(self, chat_id: int, by: FakeUser | None, old: str, new: str) -> None:
        bot = bot_user_json()

        def member(status: str) -> JSON:
            body: JSON = {"user": bot, "status": status}
            if status == "kicked":
                body["until_date"] = 0
            return body

        self._queue(
            "my_chat_member",
            {
                "chat": self._chats[chat_id],
                "from": (by or self._someone()).user_json(),
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    def inject_429(self, count: int = 1, retry_after: int = 1) -> None:
        """The next `count` sending calls answer 429 Too Many Requests."""
        self._inject.extend([retry_after] * count)

    def chat(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages in a chat, oldest first (deleted ones flagged, not removed)."""
        return [m for m in self._messages.get(chat_id, {}).values() if m.from_bot]

    def events(self, chat_id: int) -> list[SentMessage]:
        """Snapshots of every new or edited bot message in a chat, in order."""
        return self._events.setdefault(chat_id, [])

    def pending_updates(self) -> int:
        return len(self._updates)

    def sends_per_second(self) -> dict[int, int]:
        """Successful sends/edits per wall-clock second (int(time.time()))."""
        return dict(sorted(self._histogram.items()))

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str = "") -> Any:
        """Wait (on state changes, no polling) until predicate() is truthy; return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)

    async def wait_for_webhook(self, timeout: float = 10) -> JSON:
        await self.wait_for(lambda: self.webhook_info.get("url"), timeout, "setWebhook")
        return self.webhook_info

    def _notify(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    # --- state used by FakeUser / FakeGroup ----------------------------------------------

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def _store_user_message(self, chat_id: int, payload: JSON) -> None:
        msg = SentMessage(chat_id, payload["message_id"], from_bot=False, payload=payload)
        msg.raw_text = payload.get("text", payload.get("caption"))
        msg.thread_id = payload.get("message_thread_id")
        self._messages.setdefault(chat_id, {})[msg.message_id] = msg

    def reactions(self, chat_id: int, message_id: int) -> list[str]:
        """The bot's reaction on a message (anyone's), as the chat shows it."""
        return list(self._messages[chat_id][message_id].reactions)

    def _store_file(self, content: bytes, filename: str | None, mime: str | None) -> StoredFile:
        unique = uuid.uuid4().hex[:16]
        stored = StoredFile("F" + uuid.uuid4().hex, unique, content, filename, mime)
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _make_update(self, kind: str, body: JSON) -> JSON:
        update = {"update_id": self._next_update_id, kind: body}
        self._next_update_id += 1
        return update

    def _queue(self, kind: str, body: JSON) -> JSON:
        update = self._make_update(kind, body)
        self._updates.append(update)
        self._notify()
        return update

    # --- HTTP ----------------------------------------------------------------------------

    def _log_request(self, handler: tornado.web.RequestHandler) -> None:
        request = handler.request
        log.debug(
            "%d %s %s %.1fms",
            handler.get_status(),
            request.method,
            redact(request.path),
            1000 * request.request_time(),
        )

    async def _dispatch(
        self, token: str, method: str, request: tornado.httputil.HTTPServerRequest
    ) -> tuple[int, JSON]:
        call = Call(method, {}, time.time())
        self.calls.append(call)
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            call.params = params = self._params(request)
            if delay := self._latency.get(method.lower()):
                await asyncio.sleep(delay)
            failures = self._failures.get(method.lower())
            if failures:
                raise failures.pop(0)
            if method.lower() in SENDING:
                self._pre_send(method.lower(), params)
            result = await handler(params)
            body: JSON = {"ok": True, "result": result}
        except ApiError as err:
            body, call.status = err.payload(), err.code
            self.stats[f"http_{err.code}"] += 1
        except Exception as exc:  # a bug in the fake: answer 500, never leak the token
            log.exception("fake Bot API failed in %s", method)
            description = f"Internal Server Error: {type(exc).__name__}"
            body, call.status = {"ok": False, "error_code": 500, "description": description}, 500
        self._notify()
        return call.status, body

    def _params(self, request: tornado.httputil.HTTPServerRequest) -> JSON:
        params: JSON = {}
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and request.body:
            try:
                loaded = json.loads(request.body)
            except ValueError as exc:
                raise bad_request("invalid JSON in request body") from exc
            if isinstance(loaded, dict):
                params.update(loaded)
        for source in (request.query_arguments, request.body_arguments):
            for key, values in source.items():
                params[key] = _decode_form_value(key, values[-1].decode("utf-8", "replace"))
        for key, files in request.files.items():
            upload = files[-1]
            params.setdefault("__files__", {})[key] = upload
        return params

    # --- checks --------------------------------------------------------------------------

    def _pre_send(self, method: str, params: JSON) -> None:
        if self._inject:
            retry = self._inject.pop(0)
            self.stats["429_injected"] += 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        chat_id = self._chat_id(params)
        if chat_id in self._blocked:
            self.stats["blocked"] += 1
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        now = time.monotonic()
        windows: list[_Window] = []
        if self._rate_global:
            windows.append(self._window("global", self._rate_global, 1.0))
        if chat_id < 0 and self._rate_group:
            windows.append(self._window(chat_id, self._rate_group, 60.0))
        elif chat_id > 0 and self._rate_chat:
            windows.append(self._window(chat_id, self._rate_chat, 1.0))
        for window in windows:
            if window.full(now):
                self.stats["429"] += 1
                retry = window.retry_after(now)
                raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        params["__windows__"] = windows

    def _window(self, key: Any, limit: int, period: float) -> _Window:
        if key not in self._windows:
            self._windows[key] = _Window(limit, period)
        return self._windows[key]

    def _count_send(self, params: JSON, kind: str) -> None:
        now = time.monotonic()
        for window in params.pop("__windows__", []):
            window.times.append(now)
        self._histogram[int(time.time())] += 1
        self.stats[kind] += 1

    def _chat_id(self, params: JSON) -> int:
        raw = params.get("chat_id")
        try:
            chat_id = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        if chat_id not in self._chats:
            raise bad_request("chat not found")
        if chat_id in self._migrated:  # as Telegram answers for a group that was upgraded
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self._migrated[chat_id],
            )
        if chat_id in self._kicked:
            kind = "supergroup" if chat_type(chat_id) == "supergroup" else "group"
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return chat_id

    def _message(self, params: JSON, action: str) -> SentMessage:
        chat_id = self._chat_id(params)
        try:
            message_id = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request(f"message to {action} not found") from None
        msg = self._messages.get(chat_id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise bad_request(f"message to {action} not found")
        return msg

    def _check_text(self, text: Any, parse_mode: Any, limit: int, caption: bool) -> str | None:
        if text is None or text == "":
            if caption:
                return None
            raise bad_request("message text is empty")
        shown = str(text)
        if str(parse_mode or "").lower() == "html":
            shown = parse_html(shown)
        if not caption and not shown.strip():
            raise bad_request("message text is empty")
        # Telegram counts the parsed text in code points (4,096 emoji pass, 4,097 fail);
        # only entity offsets are in UTF-16 units.
        if len(shown) > limit:
            raise bad_request("message caption is too long" if caption else "message is too long")
        return str(text)

    def _check_markup(self, markup: Any, chat_id: int | None = None) -> JSON | None:
        """As Telegram checks a keyboard; `chat_id` where it is known (web_app buttons
        open a Mini App in private chats only: elsewhere BUTTON_TYPE_INVALID)."""
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise bad_request("BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
                if len(button) == 1:
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                self._check_web_app(button, chat_id)
        return markup

    def _check_web_app(self, button: JSON, chat_id: int | None) -> None:
        if "web_app" not in button:
            return
        url = str((button["web_app"] or {}).get("url", ""))
        if not url.startswith("https://"):
            raise bad_request("BUTTON_URL_INVALID")
        if chat_id is not None and chat_id not in self.users:
            raise bad_request("BUTTON_TYPE_INVALID")

    # --- building bot messages -----------------------------------------------------------

    def _publish(self, msg: SentMessage) -> JSON:
        """Refresh the message's JSON, record an event for the chat, return the JSON."""
        msg.payload = message_json(msg, self._chats[msg.chat_id], bot_user_json())
        self.events(msg.chat_id).append(replace(msg))
        return msg.payload

    def _new_bot_message(self, params: JSON, raw_text: str | None) -> SentMessage:
        chat_id = self._chat_id(params)
        markup = self._check_markup(params.get("reply_markup"), chat_id)
        thread_id = self._thread(chat_id, params.get("message_thread_id"))
        msg = SentMessage(
            chat_id,
            self._new_message_id(chat_id),
            raw_text=raw_text,
            parse_mode=params.get("parse_mode"),
            entities=params.get("entities") or params.get("caption_entities"),
            reply_markup=(markup or {}).get("inline_keyboard", []),
            raw_markup=markup,
            date=int(time.time()),
            thread_id=thread_id,
        )
        return msg

    def _is_forum(self, chat_id: int) -> bool:
        group = self.groups.get(chat_id)
        return group is not None and group.is_forum

    def _thread(self, chat_id: int, raw: Any) -> int | None:
        """The topic a message goes to. Outside forums Telegram takes the id as a reply
        thread and the message simply lands in the chat; in a forum a topic that is not
        there (deleted, never made) is refused. The General topic has no id."""
        if raw in (None, "", 0) or not self._is_forum(chat_id):
            return None
        try:
            thread_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("message thread not found") from None
        topic = self.topics.get(chat_id, {}).get(thread_id)
        if topic is None or topic.deleted:
            raise bad_request("message thread not found")
        return thread_id

    def _live_topic(self, params: JSON) -> ForumTopic:
        chat_id = self._chat_id(params)
        if not self._is_forum(chat_id):
            raise bad_request("the chat is not a forum")
        try:
            thread_id = int(params.get("message_thread_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request("message thread not found") from None
        topic = self.topics.get(chat_id, {}).get(thread_id)
        if topic is None:
            raise bad_request("message thread not found")
        if topic.deleted:  # what Telegram answers the topic methods for a deleted topic
            raise bad_request("TOPIC_DELETED")
        return topic

    def _delete_topic(self, chat_id: int, thread_id: int) -> None:
        self.topics[chat_id][thread_id].deleted = True
        for msg in self._messages.get(chat_id, {}).values():
            if msg.thread_id == thread_id or msg.message_id == thread_id:
                msg.deleted = True

    def _deliver(self, msg: SentMessage, params: JSON) -> JSON:
        reply = params.get("reply_parameters") or {}
        if isinstance(reply, str):
            reply = json.loads(reply)
        target_id = reply.get("message_id") or params.get("reply_to_message_id")
        target = self._messages.get(msg.chat_id, {}).get(int(target_id or 0))
        if target is not None:  # threaded under an earlier message, as Telegram shows it
            msg.reply_to = {k: v for k, v in target.payload.items() if k != "reply_to_message"}
        elif target_id and not reply.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        self._messages.setdefault(msg.chat_id, {})[msg.message_id] = msg
        self._count_send(params, "sent")
        return self._publish(msg)

    def _input_file(self, params: JSON, field: str) -> StoredFile:
        files: dict[str, tornado.httputil.HTTPFile] = params.get("__files__", {})
        value = params.get(field)
        name = field
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://") :]
        if name in files:
            upload = files[name]
            return self._store_file(upload.body, upload.filename or None, upload.content_type)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self._store_file(b"", value.rsplit("/", 1)[-1] or None, None)
        raise bad_request(f"wrong file identifier/HTTP URL specified ({field})")

    # --- Bot API methods -----------------------------------------------------------------

    async def api_getMe(self, params: JSON) -> JSON:
        return bot_user_json()

    async def api_getUpdates(self, params: JSON) -> list[JSON]:
        if self.webhook_info.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if params.get("allowed_updates") is not None:
            allowed = params["allowed_updates"]
            self._allowed_updates = list(
                json.loads(allowed) if isinstance(allowed, str) else allowed
            )
        self._poll_generation += 1
        generation = self._poll_generation

        def ready() -> list[JSON]:
            wanted = self._allowed_updates or [t for t in UPDATE_TYPES if t != "chat_member"]
            return [u for u in self._updates if any(k in u for k in wanted)][:limit]

        with contextlib.suppress(AssertionError):
            await self.wait_for(
                lambda: ready() or self._stopping or generation != self._poll_generation,
                timeout,
                "updates",
            )
        if self._stopping or generation != self._poll_generation:
            return []  # a newer poll (e.g. a restarted bot) takes over
        return ready()

    async def api_setWebhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")  # as Telegram
        self.webhook_info = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": params.get("max_connections", 40),
            "drop_pending_updates": bool(params.get("drop_pending_updates")),
        }
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if url and self._webhook_task is None:
            self._webhook_task = asyncio.create_task(self._push_webhook())
        return True

    async def api_deleteWebhook(self, params: JSON) -> bool:
        self.webhook_info = {"url": ""}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def api_getWebhookInfo(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook_info.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
            "max_connections": self.webhook_info.get("max_connections", 40),
        }
        if self.webhook_info.get("allowed_updates"):
            info["allowed_updates"] = self.webhook_info["allowed_updates"]
        return info

    async def _push_webhook(self) -> None:
        """Deliver queued updates to the webhook like Telegram does (one at a time)."""
        async with httpx.AsyncClient(timeout=10) as client:
            while not self._stopping:
                await self.wait_for(lambda: self._stopping or not self.webhook_info.get("url")
                                    or self._updates, 3600)  # fmt: skip
                url = self.webhook_info.get("url")
                if self._stopping or not url:
                    self._webhook_task = None
                    return
                update = self._updates[0]
                headers = {}
                if self.webhook_info.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_info["secret_token"]
                try:
                    response = await client.post(url, json=update, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok and self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                    self._notify()
                elif not ok:
                    await asyncio.sleep(0.2)  # Telegram retries failed deliveries later

    async def api_logOut(self, params: JSON) -> bool:
        return True

    async def api_close(self, params: JSON) -> bool:
        return True

    @staticmethod
    def _scope_key(params: JSON) -> tuple[str, str | None]:
        scope = params.get("scope") or {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        key = str(scope.get("type", "default"))
        for extra in ("chat_id", "user_id"):
            if extra in scope:
                key += f":{scope[extra]}"
        return key, params.get("language_code") or None

    async def api_setMyCommands(self, params: JSON) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = list(commands)
        return True

    async def api_getMyCommands(self, params: JSON) -> list[JSON]:
        return self.commands.get(self._scope_key(params), [])

    async def api_deleteMyCommands(self, params: JSON) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def _store_setting(self, name: str, params: JSON) -> bool:
        clean = {k: v for k, v in params.items() if not k.startswith("__")}
        self.settings[f"{name}:{params.get('language_code') or ''}"] = clean
        return True

    async def api_setMyDescription(self, params: JSON) -> bool:
        # 0-512 characters (an empty one removes the language's own description).
        if len(str(params.get("description") or "")) > 512:
            raise bad_request("BOT_DESCRIPTION_INVALID")
        self.stats["set_description"] += 1
        return await self._store_setting("description", params)

    async def api_setMyShortDescription(self, params: JSON) -> bool:
        if len(str(params.get("short_description") or "")) > 120:
            raise bad_request("BOT_ABOUT_INVALID")
        self.stats["set_short_description"] += 1
        return await self._store_setting("short_description", params)

    async def api_setMyName(self, params: JSON) -> bool:
        return await self._store_setting("name", params)

    async def api_setChatMenuButton(self, params: JSON) -> bool:
        self.settings[f"menu_button:{params.get('chat_id') or ''}"] = params.get("menu_button")
        return True

    async def api_getMyDescription(self, params: JSON) -> JSON:
        stored = self.settings.get(f"description:{params.get('language_code') or ''}", {})
        return {"description": stored.get("description", "")}

    async def api_getMyShortDescription(self, params: JSON) -> JSON:
        stored = self.settings.get(f"short_description:{params.get('language_code') or ''}", {})
        return {"short_description": stored.get("short_description", "")}

    async def api_getChatMenuButton(self, params: JSON) -> JSON:
        button = self.settings.get(f"menu_button:{params.get('chat_id') or ''}")
        return button if isinstance(button, dict) else {"type": "default"}

    async def api_sendMessage(self, params: JSON) -> JSON:
        self._chat_id(params)
        text = self._check_text(params.get("text"), params.get("parse_mode"), 4096, False)
        return self._deliver(self._new_bot_message(params, text), params)

    async def api_sendDocument(self, params: JSON) -> JSON:
        self._chat_id(params)
        caption = self._check_text(params.get("caption"), params.get("parse_mode"), 1024, True)
        stored = self._input_file(params, "document")
        msg = self._new_bot_message(params, caption)
        msg.document = stored
        return self._deliver(msg, params)

    async def api_sendPhoto(self, params: JSON) -> JSON:
        self._chat_id(params)
        caption = self._check_text(params.get("caption"), params.get("parse_mode"), 1024, True)
        stored = self._input_file(params, "photo")
        msg = self._new_bot_message(params, caption)
        msg.photo_file, msg.photo = stored, stored.content
        return self._deliver(msg, params)

    async def api_editMessageText(self, params: JSON) -> JSON:
        msg = self._editable(params)
        if msg.document or msg.photo_file:
            raise bad_request("there is no text in the message to edit")
        text = self._check_text(params.get("text"), params.get("parse_mode"), 4096, False)
        return self._edit(msg, params, text, params.get("parse_mode"))

    async def api_editMessageCaption(self, params: JSON) -> JSON:
        msg = self._editable(params)
        caption = self._check_text(params.get("caption"), params.get("parse_mode"), 1024, True)
        return self._edit(msg, params, caption, params.get("parse_mode"))

    async def api_editMessageReplyMarkup(self, params: JSON) -> JSON:
        msg = self._editable(params)
        result = self._edit(msg, params, msg.raw_text, msg.parse_mode)
        if not msg.reply_markup:
            self.events(msg.chat_id)[-1].keyboard_off = True
        return result

    def _editable(self, params: JSON) -> SentMessage:
        if params.get("inline_message_id"):
            raise bad_request("message to edit not found")
        msg = self._message(params, "edit")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return msg

    def _edit(self, msg: SentMessage, params: JSON, text: str | None, mode: Any) -> JSON:
        markup = self._check_markup(params.get("reply_markup"), msg.chat_id)
        rows = (markup or {}).get("inline_keyboard", [])
        before = (msg.text, msg.entities, msg.reply_markup)
        candidate = replace(msg, raw_text=text, parse_mode=mode, reply_markup=rows)
        candidate.entities = params.get("entities") or params.get("caption_entities")
        if (candidate.text, candidate.entities, candidate.reply_markup) == before:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        msg.raw_text, msg.parse_mode, msg.entities = text, mode, candidate.entities
        msg.reply_markup, msg.raw_markup = rows, markup
        msg.edits += 1
        self._count_send(params, "edited")
        return self._publish(msg)

    async def api_deleteMessage(self, params: JSON) -> bool:
        msg = self._message(params, "delete")
        msg.deleted = True
        self.stats["deleted"] += 1
        return True

    async def api_answerCallbackQuery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id in self.callback_answers or not query_id.startswith("cbq"):
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        answer: JSON = {"text": None, "show_alert": False, "url": None, "cache_time": 0}
        answer.update({k: v for k, v in params.items() if not k.startswith("__")})
        self.callback_answers[query_id] = answer
        return True

    async def api_answerInlineQuery(self, params: JSON) -> bool:
        query_id = str(params.get("inline_query_id"))
        asked = self._inline_asked.get(query_id)
        if (
            asked is None
            or query_id in self.inline_answers
            or time.monotonic() - asked > INLINE_ANSWER_SECONDS
        ):
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results")
        if isinstance(results, str):
            results = json.loads(results)
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._check_inline_result(result, seen)
        if not isinstance(params.get("cache_time", 300), int):
            raise bad_request("can't parse cache_time")
        answer: JSON = {"cache_time": 300, "is_personal": False, "next_offset": ""}
        answer.update({k: v for k, v in params.items() if not k.startswith("__")})
        answer["results"] = results
        self.inline_answers[query_id] = answer
        return True

    def _check_inline_result(self, result: Any, seen: set[str]) -> None:
        """What Telegram refuses in a result: its type, a 1-64 byte id unique in the
        answer, an article's title and message (1-4,096 characters once parsed), the
        buttons."""
        if not isinstance(result, dict) or result.get("type") not in INLINE_RESULT_TYPES:
            raise bad_request("RESULT_TYPE_INVALID")
        result_id = str(result.get("id") or "")
        if not 1 <= len(result_id.encode("utf-8")) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result["type"] == "article":
            if not str(result.get("title") or "").strip():
                raise bad_request("ARTICLE_TITLE_EMPTY")
            content = result.get("input_message_content")
            if not isinstance(content, dict) or "message_text" not in content:
                raise bad_request("MESSAGE_EMPTY")
            self._check_text(content["message_text"], content.get("parse_mode"), 4096, False)
        self._check_markup(result.get("reply_markup"))

    async def api_sendChatAction(self, params: JSON) -> bool:
        if self._chat_id(params) in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return True

    async def api_getChat(self, params: JSON) -> JSON:
        chat = dict(self._chats[self._chat_id(params)])
        chat.update(accent_color_id=0, max_reaction_count=11)
        chat["accepted_gift_types"] = {
            "unlimited_gifts": False, "limited_gifts": False,
            "unique_gifts": False, "premium_subscription": False, "gifts_from_channels": False,
        }  # fmt: skip
        return chat

    # --- forum topics and reactions ------------------------------------------------------

    async def api_createForumTopic(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        if not self._is_forum(chat_id):
            raise bad_request("the chat is not a forum")
        name = str(params.get("name") or "")
        if not name.strip():
            raise bad_request("TOPIC_TITLE_EMPTY")
        if len(name) > 128:
            raise bad_request("TOPIC_TITLE_TOO_LONG")  # Telegram: 1-128 characters
        color = int(params.get("icon_color") or 0x6FB9F0)
        if color not in TOPIC_COLORS:
            raise bad_request("TOPIC_ICON_COLOR_INVALID")
        # The topic opens with a service message; its id is the topic's thread id.
        opener = SentMessage(chat_id, self._new_message_id(chat_id), date=int(time.time()))
        topic = ForumTopic(opener.message_id, name, color, renames=[name])
        opener.thread_id = topic.thread_id
        opener.payload = message_json(opener, self._chats[chat_id], bot_user_json())
        opener.payload["forum_topic_created"] = {"name": name, "icon_color": color}
        opener.from_bot = False  # a service message: not one of the bot's messages
        self._messages.setdefault(chat_id, {})[opener.message_id] = opener
        self.topics.setdefault(chat_id, {})[topic.thread_id] = topic
        self.stats["topics_created"] += 1
        return topic.json()

    async def api_editForumTopic(self, params: JSON) -> bool:
        topic = self._live_topic(params)
        name = params.get("name")
        if name is not None:
            if not str(name).strip() or len(str(name)) > 128:
                raise bad_request("TOPIC_TITLE_EMPTY" if not str(name).strip()
                                  else "TOPIC_TITLE_TOO_LONG")  # fmt: skip
            if str(name) == topic.name:
                raise bad_request("TOPIC_NOT_MODIFIED")
            topic.name = str(name)
            topic.renames.append(topic.name)
        return True

    async def api_closeForumTopic(self, params: JSON) -> bool:
        topic = self._live_topic(params)
        if topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def api_reopenForumTopic(self, params: JSON) -> bool:
        topic = self._live_topic(params)
        if not topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def api_deleteForumTopic(self, params: JSON) -> bool:
        topic = self._live_topic(params)
        self._delete_topic(self._chat_id(params), topic.thread_id)
        return True

    async def api_setMessageReaction(self, params: JSON) -> bool:
        chat_id = self._chat_id(params)
        try:
            message_id = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request("message to react not found") from None
        msg = self._messages.get(chat_id, {}).get(message_id)
        if msg is None or msg.deleted:
            raise bad_request("message to react not found")
        raw = params.get("reaction") or []
        reaction = json.loads(raw) if isinstance(raw, str) else raw
        emoji: list[str] = []
        for kind in reaction:
            if kind.get("type") != "emoji" or kind.get("emoji") not in REACTION_EMOJI:
                raise bad_request("REACTION_INVALID")
            emoji.append(str(kind["emoji"]))
        if len(emoji) > 1:  # bots without Premium set one reaction
            raise bad_request("REACTIONS_TOO_MANY")
        msg.reactions = emoji  # replaces the bot's earlier reaction, as in Telegram
        self.stats["reactions"] += 1
        return True

    async def api_getFile(self, params: JSON) -> JSON:
        stored = self._files.get(str(params.get("file_id")))
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.file_json()

    def _source(self, params: JSON) -> SentMessage:
        source = dict(params, chat_id=params.get("from_chat_id"))
        return self._message(source, "copy")

    async def api_copyMessage(self, params: JSON) -> JSON:
        source = self._source(params)
        caption = params.get("caption", source.raw_text)
        msg = self._new_bot_message(params, caption)
        msg.parse_mode = params.get("parse_mode", source.parse_mode if caption else None)
        msg.document, msg.photo_file, msg.photo = source.document, source.photo_file, source.photo
        if source.payload.get("document") and not msg.document:  # a user's upload
            msg.document = self._files.get(source.payload["document"]["file_id"])
        if msg.raw_text is None and not (msg.document or msg.photo_file):
            raise bad_request("message can't be copied")
        self._deliver(msg, params)
        return {"message_id": msg.message_id}

    async def api_forwardMessage(self, params: JSON) -> JSON:
        source = self._source(params)
        msg = self._new_bot_message({"chat_id": params.get("chat_id")}, source.raw_text)
        msg.parse_mode, msg.entities = source.parse_mode, source.entities
        msg.document, msg.photo_file, msg.photo = source.document, source.photo_file, source.photo
        payload = self._deliver(msg, params)
        payload["forward_origin"] = {"type": "hidden_user", "sender_user_name": "someone",
                                     "date": source.date or int(time.time())}  # fmt: skip
        return payload


def _decode_form_value(key: str, value: str) -> Any:
    """Form fields carry JSON-encoded objects, arrays, numbers and booleans (as PTB sends)."""
    if key in TEXT_PARAMS:
        return value
    if value[:1] in "[{" or value in ("true", "false", "null") or re.fullmatch(r"-?\d+", value):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
