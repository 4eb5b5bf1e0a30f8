"""Telegram users and groups acting on the fake server, as tests drive them."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from .models import JSON, SentMessage, chat_type, command_entities

if TYPE_CHECKING:
    from .server import FakeTelegram


class _Chat:
    """Shared by private chats (FakeUser) and groups: reading what the bot wrote there."""

    chat_id: int

    def __init__(self, server: FakeTelegram) -> None:
        self.server = server
        self._cursor = 0  # index into server.events(chat_id) already consumed

    def chat_json(self) -> JSON:
        raise NotImplementedError

    def messages(self) -> list[SentMessage]:
        """The bot's messages in this chat (the live, latest state of each)."""
        return self.server.chat(self.chat_id)

    def skip_pending(self) -> None:
        """Forget bot messages/edits seen so far: expect_message waits for newer ones."""
        self._cursor = len(self.server.events(self.chat_id))

    async def expect_message(self, timeout: float = 5) -> SentMessage:
        """The next new or edited bot message here (as it was at that moment); a
        keyboard merely taken off an earlier message is passed over."""
        events = self.server.events(self.chat_id)

        def readable() -> bool:
            while len(events) > self._cursor and events[self._cursor].keyboard_off:
                self._cursor += 1
            return len(events) > self._cursor

        try:
            await self.server.wait_for(readable, timeout)
        except AssertionError:
            raise AssertionError(
                f"no message from the bot in chat {self.chat_id} within {timeout}s; "
                f"last messages there: {self.messages()[-5:]!r}"
            ) from None
        self._cursor += 1
        return events[self._cursor - 1]

    def _message_payload(self, sender: JSON, **body: Any) -> JSON:
        payload: JSON = {
            "message_id": self.server._new_message_id(self.chat_id),
            "date": int(time.time()),
            "chat": self.chat_json(),
            "from": sender,
        }
        payload.update(body)
        self.server._store_user_message(self.chat_id, payload)
        return payload

    def _post(self, kind: str, payload: JSON) -> JSON:
        self.skip_pending()
        self.server._queue(kind, payload)
        return payload

    def _text_body(self, text: str, entities: list[JSON] | None) -> JSON:
        body: JSON = {"text": text}
        found = command_entities(text) if entities is None else entities
        if found:
            body["entities"] = found
        return body

    def _keyboard_message(self, label: str) -> tuple[SentMessage, str]:
        for msg in reversed(self.messages()):
            if msg.deleted or not msg.reply_markup:
                continue
            buttons = [(lbl, data) for lbl, data in msg.buttons()]
            exact = [b for b in buttons if b[0] == label]
            partial = [b for b in buttons if label in b[0]]
            chosen = exact or (partial if len(partial) == 1 else [])
            if not chosen:
                raise AssertionError(f"no unique button {label!r} on the latest keyboard: {msg!r}")
            data = chosen[0][1]
            button = next(
                b for row in msg.reply_markup for b in row if b.get("text") == chosen[0][0]
            )
            if "callback_data" not in button:
                raise AssertionError(f"button {label!r} is not a callback button: {button}")
            return msg, str(data)
        raise AssertionError(f"no bot message with an inline keyboard in chat {self.chat_id}")

    def _callback(self, sender: JSON, message_id: int, data: str) -> str:
        msg = self.server._messages.get(self.chat_id, {}).get(message_id)
        if msg is None or msg.deleted or not msg.from_bot:
            raise AssertionError(f"no bot message {message_id} in chat {self.chat_id} to press on")
        query_id = "cbq" + uuid.uuid4().hex[:20]
        query: JSON = {
            "id": query_id,
            "from": sender,
            "message": msg.payload,
            "chat_instance": str(abs(hash(("chat", self.chat_id)))),
            "data": data,
        }
        self._post("callback_query", query)
        return query_id


class FakeUser(_Chat):
    """A Telegram user in a private chat with the bot (chat id == user id)."""

    def __init__(
        self,
        server: FakeTelegram,
        user_id: int,
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool | None = None,
    ) -> None:
        super().__init__(server)
        self.id = self.chat_id = user_id
        self.first_name, self.last_name, self.username = first_name, last_name, username
        self.language_code, self.is_premium = language_code, is_premium
        self.last_query_id: str | None = None
        self.last_inline_id: str | None = None
        self._last_sent: JSON | None = None

    def user_json(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code", "is_premium"):
            if getattr(self, key) is not None:
                user[key] = getattr(self, key)
        return user

    def chat_json(self) -> JSON:
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    # --- sending -------------------------------------------------------------------------

    def make_update(self, text: str, entities: list[JSON] | None = None) -> JSON:
        """A message Update (stored, not queued) e.g. to POST to a webhook yourself."""
        payload = self._message_payload(self.user_json(), **self._text_body(text, entities))
        self.skip_pending()
        return self.server._make_update("message", payload)

    async def send(self, text: str, entities: list[JSON] | None = None) -> JSON:
        """Send a text message (a leading /command gets its bot_command entity)."""
        return self._sent(
            self._message_payload(self.user_json(), **self._text_body(text, entities))
        )

    async def send_and_wait(self, text: str, timeout: float = 5) -> SentMessage:
        await self.send(text)
        return await self.expect_message(timeout=timeout)

    async def reply_to(self, message_id: int, text: str) -> JSON:
        original = self.server._messages.get(self.chat_id, {}).get(message_id)
        if original is None:
            raise AssertionError(f"no message {message_id} in chat {self.chat_id} to reply to")
        body = self._text_body(text, None)
        body["reply_to_message"] = original.payload
        return self._sent(self._message_payload(self.user_json(), **body))

    async def send_document(
        self,
        content: bytes,
        filename: str = "document",
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> JSON:
        if not isinstance(content, bytes | bytearray) or not isinstance(filename, str):
            raise TypeError("send_document(content: bytes, filename: str, ...)")
        stored = self.server._store_file(bytes(content), filename, mime_type)
        body: JSON = {"document": stored.document_json()}
        if caption is not None:
            body["caption"] = caption
        return self._sent(self._message_payload(self.user_json(), **body))

    async def send_photo(self, content: bytes, caption: str | None = None) -> JSON:
        stored = self.server._store_file(content, "photo.jpg", "image/jpeg")
        body: JSON = {"photo": stored.photo_json()}
        if caption is not None:
            body["caption"] = caption
        return self._sent(self._message_payload(self.user_json(), **body))

    async def send_contact(self, phone_number: str, first_name: str | None = None) -> JSON:
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or self.first_name,
            "user_id": self.id,
        }
        return self._sent(self._message_payload(self.user_json(), contact=contact))

    async def send_sticker(self, emoji: str = "👍") -> JSON:
        stored = self.server._store_file(b"RIFF-sticker", "sticker.webp", "image/webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._sent(self._message_payload(self.user_json(), sticker=sticker))

    async def send_raw(self, **body: Any) -> JSON:
        """A message with any fields (voice, location, odd text…), stored and queued."""
        return self._sent(self._message_payload(self.user_json(), **body))

    async def edit_last_text(self, text: str) -> JSON:
        """Edit this user's last text message (an edited_message update)."""
        if self._last_sent is None or "text" not in self._last_sent:
            raise AssertionError(f"user {self.id} has no text message to edit")
        edited = dict(self._last_sent, **self._text_body(text, None), edit_date=int(time.time()))
        self._last_sent = edited
        return self._post("edited_message", edited)

    def _sent(self, payload: JSON) -> JSON:
        self._last_sent = payload
        return self._post("message", payload)

    # --- inline mode ---------------------------------------------------------------------

    async def inline_query(self, query: str, chat_type: str = "private", offset: str = "") -> str:
        """Type `@bot <query>` in some chat: an inline_query update (no chat, no message)."""
        if len(query) > 256:
            raise AssertionError("Telegram sends at most 256 characters of an inline query")
        query_id = str(uuid.uuid4().int)[:19]
        body: JSON = {
            "id": query_id, "from": self.user_json(), "query": query, "offset": offset,
            "chat_type": chat_type,
        }  # fmt: skip
        self.server._inline_asked[query_id] = time.monotonic()
        self.server._queue("inline_query", body)
        self.last_inline_id = query_id
        return query_id

    async def expect_inline_answer(self, timeout: float = 5) -> JSON:
        """The answerInlineQuery parameters for this user's last inline query."""
        query_id = self.last_inline_id
        if query_id is None:
            raise AssertionError(f"user {self.id} sent no inline query")
        try:
            return dict(
                await self.server.wait_for(
                    lambda: self.server.inline_answers.get(query_id), timeout
                )
            )
        except AssertionError:
            raise AssertionError(
                f"the bot did not answer the inline query of user {self.id} within {timeout}s"
            ) from None

    # --- buttons -------------------------------------------------------------------------

    async def press(self, label: str) -> str:
        """Press a callback button (exact label, else unique substring) on the latest keyboard."""
        msg, data = self._keyboard_message(label)
        return await self.press_data(msg.message_id, data)

    async def press_data(self, message_id: int, data: str) -> str:
        """Press arbitrary callback data on a bot message (forged or stale buttons)."""
        self.last_query_id = self._callback(self.user_json(), message_id, data)
        return self.last_query_id

    async def expect_callback_answer(self, timeout: float = 5) -> JSON:
        """The answerCallbackQuery parameters for this user's last press."""
        query_id = self.last_query_id
        if query_id is None:
            raise AssertionError(f"user {self.id} pressed no button")
        try:
            return dict(
                await self.server.wait_for(
                    lambda: self.server.callback_answers.get(query_id), timeout
                )
            )
        except AssertionError:
            raise AssertionError(
                f"the bot did not answer the callback query of user {self.id} within {timeout}s; "
                f"last messages: {self.messages()[-5:]!r}"
            ) from None


class FakeGroup(_Chat):
    """A group chat (negative id) the bot is a member of."""

    def __init__(self, server: FakeTelegram, chat_id: int, title: str) -> None:
        super().__init__(server)
        self.chat_id, self.title = chat_id, title
        self.is_forum = False

    def chat_json(self) -> JSON:
        chat: JSON = {"id": self.chat_id, "type": chat_type(self.chat_id), "title": self.title}
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    async def send(self, user: FakeUser, text: str, *, thread: int | None = None) -> JSON:
        """A member writes here; with `thread`, in that forum topic (not replying to
        anything: Telegram then shows the topic's opening message as the one replied to)."""
        body = self._text_body(text, None)
        if thread is not None:
            opener = self.server._messages.get(self.chat_id, {}).get(thread)
            if opener is None or not self.is_forum:
                raise AssertionError(f"no topic {thread} in chat {self.chat_id}")
            body.update(message_thread_id=thread, is_topic_message=True,
                        reply_to_message=dict(opener.payload))  # fmt: skip
        payload = self._message_payload(user.user_json(), **body)
        return self._post("message", payload)

    async def send_raw(self, user: FakeUser, **body: Any) -> JSON:
        return self._post("message", self._message_payload(user.user_json(), **body))

    async def send_and_wait(self, user: FakeUser, text: str, timeout: float = 5) -> SentMessage:
        await self.send(user, text)
        return await self.expect_message(timeout=timeout)

    async def press(self, user: FakeUser, label: str) -> str:
        msg, data = self._keyboard_message(label)
        user.last_query_id = self._callback(user.user_json(), msg.message_id, data)
        return user.last_query_id

    async def press_data(self, user: FakeUser, message_id: int, data: str) -> str:
        """A member presses a button with this data on one message of the group."""
        user.last_query_id = self._callback(user.user_json(), message_id, data)
        return user.last_query_id
