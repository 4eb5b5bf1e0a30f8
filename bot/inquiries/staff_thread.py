"""An inquiry's place in the staff chat: its live card and, when the staff chat is a forum
supergroup, its own topic.

The card is posted through the outbox as before ("inq:N:new:<chat>"); where it landed is
kept in staff_cards (storage/staff_cards.py). Every change of the inquiry queues one edit
of it (`changed`), coalesced: an edit still waiting in the outbox is given the newer text
rather than queued again, and the sender renders the card afresh when it sends it.

In a forum, the sender (bot.engines.outbox.SendHooks, implemented by `StaffThreads`)
puts every staff-chat message about an inquiry into its topic, opening the topic first
if there is none. When Telegram says the topic is gone (deleted by a member: "message
thread not found", or "TOPIC_DELETED"), the mapping is cleared and the row is tried
again: the next try opens a new topic, posts the card in it, then sends the row there,
so a follow-up that met a deleted topic is never lost. Telegram calls of the sender's own
(a topic, a re-posted card) happen outside any transaction; what they made is recorded
compare-and-set, and a process that lost a race takes its duplicate back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Message
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.engines import outbox, staff_chat
from bot.engines.outbox import DROP, RETRY, Delivered, Later, Prepared
from bot.engines.staff_chat import StaffChat
from bot.inquiries import views as render
from bot.settings import Settings
from bot.traffic.ratelimit import BULK
from storage import inquiries as inquiries_repo
from storage import next_steps as steps_repo
from storage import outbox as outbox_repo
from storage import programs as programs_repo
from storage import staff_cards as cards
from storage import users as users_repo
from storage.engine import READ_ONLY
from storage.models import (
    Inquiry,
    InquiryStatus,
    OutboxMessage,
    OutboxState,
    StaffCard,
    StepStatus,
    utcnow,
)

log = logging.getLogger(__name__)

_KEY = re.compile(r"inq:(\d+):(new|edit|name|close|reopen):(-?\d+)(?::\d+)?")
TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
CLOSED = frozenset({InquiryStatus.CLOSED, InquiryStatus.DECLINED})
LOCKS = 64  # inquiries share this many locks in a process (bounded, and rarely contended)
REFUSED_FOR = 600.0  # seconds the bot writes without topics after Telegram refused one


def card_key(inquiry_id: int, chat_id: int) -> str:
    """The outbox key of an inquiry's first card in a chat (bot/inquiries/service.py)."""
    return f"inq:{inquiry_id}:new:{chat_id}"


def _kind(row: OutboxMessage) -> str:
    match = _KEY.fullmatch(row.dedupe_key or "")
    return match.group(2) if match else "other"


def _inquiry_of(row: OutboxMessage) -> int | None:
    ref = row.ref or ""
    number = ref.removeprefix("inquiry:")
    return int(number) if ref.startswith("inquiry:") and number.isdigit() else None


# --- what the card shows ------------------------------------------------------------------


async def card_facts(session: AsyncSession, inquiry: Inquiry) -> render.CardFacts:
    assignee = None
    if inquiry.assignee_id is not None:
        user = await users_repo.get_user(session, inquiry.assignee_id)
        assignee = user.first_name if user is not None else None
    events = await inquiries_repo.events_of(session, inquiry.id, public_only=False)
    replies = [e.created_at for e in events if e.kind == "reply"]
    follow_ups = [e.created_at for e in events if e.kind == "follow_up"]
    answered = max(replies) if replies else None
    latest_follow_up = max(follow_ups) if follow_ups else None
    waiting = (
        latest_follow_up if latest_follow_up and answered and latest_follow_up > answered else None
    )
    steps = [s for s in await steps_repo.steps_of_inquiry(session, inquiry.id)
             if s.status is not StepStatus.CANCELLED]  # fmt: skip
    steps.sort(key=lambda s: (s.status is StepStatus.DONE, s.due_at))
    owners = await inquiries_repo.users_by_ids(session, [s.owner_id for s in steps])
    lines = [
        render.StepLine(s.title, owners[s.owner_id].first_name if s.owner_id in owners else "",
                        s.due_at, s.status is StepStatus.DONE)
        for s in steps
    ]  # fmt: skip
    return render.CardFacts(assignee, answered, waiting, lines)


async def card_payload(
    session: AsyncSession, settings: Settings, inquiry: Inquiry, lang: str
) -> dict[str, Any]:
    """The live card as it is now: text and buttons."""
    program = (
        await programs_repo.get_program(session, inquiry.program_id) if inquiry.program_id else None
    )
    profile = (
        await inquiries_repo.get_profile(session, inquiry.user_id) if inquiry.user_id else None
    )
    contact = await users_repo.get_user(session, inquiry.user_id) if inquiry.user_id else None
    facts = await card_facts(session, inquiry)
    text, keyboard = render.staff_card(lang, inquiry, program, profile, contact, settings, facts)
    return outbox.payload_text(text, keyboard)


# --- changes, in the unit of work of the change ---------------------------------------------


async def card_of(session: AsyncSession, settings: Settings, inquiry_id: int) -> StaffCard | None:
    """The inquiry's card in the staff chat, if it has one there (sent or on its way)."""
    chat = (await staff_chat.load(session, settings)).usable
    if chat is None:
        return None
    card = await cards.get(session, inquiry_id, chat, lock=True)
    if card is not None:
        return card
    first = await outbox_repo.by_key(session, card_key(inquiry_id, chat))
    if first is None:
        return None
    card = await cards.ensure(session, inquiry_id, chat, utcnow())
    if _landed(first, chat) and first.message_id is not None:  # posted before staff_cards
        card.message_id = first.message_id
    return card


async def changed(
    session: AsyncSession, settings: Settings, inquiry: Inquiry,
    *, was: InquiryStatus | None = None,
) -> None:  # fmt: skip
    """The inquiry changed: its card is edited to show it (one edit however many changes
    come before it is sent); in a forum its topic is renamed, and closed or reopened
    when the inquiry was (`was`: the status before, when it changed)."""
    card = await card_of(session, settings, inquiry.id)
    if card is None:
        return
    lang, chat = settings.default_language, card.chat_id
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("edit", "editMessageText", await card_payload(session, settings, inquiry, lang))
    ]
    if card.thread_id is not None:
        topic = {"message_thread_id": card.thread_id}
        rows.append(("name", "editForumTopic", {**topic, "name": render.topic_name(lang, inquiry)}))
        if was is not None and (was in CLOSED) != (inquiry.status in CLOSED):
            closing = inquiry.status in CLOSED
            rows.append(("close" if closing else "reopen",
                         "closeForumTopic" if closing else "reopenForumTopic", topic))  # fmt: skip
    version = card.edits
    replaced = [
        await outbox_repo.replace_pending(session, f"inq:{inquiry.id}:{kind}:{chat}:{version}", p)
        for kind, _, p in rows
    ]
    if all(replaced):
        return  # the edits already waiting will show this too
    card.edits = version = version + 1
    for kind, method, payload in rows:
        await outbox.queue(
            session, chat, payload, method=method, ref=f"inquiry:{inquiry.id}",
            dedupe_key=f"inq:{inquiry.id}:{kind}:{chat}:{version}",
        )  # fmt: skip


async def card_changed(session: AsyncSession, settings: Settings, inquiry_id: int) -> None:
    inquiry = await inquiries_repo.get_inquiry(session, inquiry_id)
    if inquiry is not None:
        await changed(session, settings, inquiry)


async def thread_inquiry(session: AsyncSession, chat_id: int, thread_id: int) -> int | None:
    """The inquiry whose topic this is, if any."""
    card = await cards.by_thread(session, chat_id, thread_id)
    return card.inquiry_id if card is not None else None


async def post_under_card(
    session: AsyncSession, settings: Settings, inquiry_id: int, payload: dict[str, Any]
) -> bool:
    """A message about the inquiry for the staff chat, under its card (in its topic:
    the sender puts it there). Nothing if the inquiry has no card there."""
    card = await card_of(session, settings, inquiry_id)
    if card is None:
        return False
    await outbox.queue(session, card.chat_id, payload, ref=f"inquiry:{inquiry_id}")
    return True


# --- receipts: reactions on the contact's own message -------------------------------------

SEEN, ANSWERED = "👀", "👍"


async def receipt(session: AsyncSession, inquiry: Inquiry, emoji: str) -> None:
    """React on the contact's latest message of the inquiry (one whose id we know: a
    Telegram reply to us) instead of writing to them: 👀 staff opened it, 👍 answered.
    Each receipt once per message, and 👀 never replaces a 👍 already given."""
    if inquiry.user_id is None:
        return
    said = await inquiries_repo.latest_contact_message(session, inquiry.id, inquiry.user_id)
    if said is None:
        return
    event_id, message_id = said
    key = f"inq:{inquiry.id}:react:{event_id}:"
    if emoji == SEEN and await outbox_repo.by_key(session, key + ANSWERED) is not None:
        return
    await outbox.queue(
        session, inquiry.user_id, {"message_id": message_id,
                                   "reaction": [{"type": "emoji", "emoji": emoji}]},
        method="setMessageReaction", ref=f"inquiry:{inquiry.id}", dedupe_key=key + emoji,
    )  # fmt: skip


# --- the sender's side (bot.engines.outbox.SendHooks) ---------------------------------------


class StaffThreads:
    """Shapes the staff chat's rows about an inquiry as they are sent: into its topic,
    under its card, the card itself fresh; and learns from Telegram's refusals."""

    def __init__(
        self, bot: ExtBot[Any], sessions: async_sessionmaker[AsyncSession], settings: Settings,
        staff: StaffChat,
    ) -> None:  # fmt: skip
        self.bot, self.sessions, self.settings, self.staff = bot, sessions, settings, staff
        self._locks = [asyncio.Lock() for _ in range(LOCKS)]
        self._refused: dict[int, float] = {}  # chat → until when topics are not tried

    async def prepare(self, row: OutboxMessage, chat_id: int) -> Prepared:
        inquiry_id = _inquiry_of(row)
        if inquiry_id is None or chat_id >= 0 or chat_id != (await self.staff.current()).chat_id:
            return row.payload
        # One inquiry's rows one after the other in this process: one topic, one card.
        async with self._locks[inquiry_id % LOCKS]:
            return await self._prepare(row, chat_id, inquiry_id, _kind(row))

    async def _prepare(
        self, row: OutboxMessage, chat_id: int, inquiry_id: int, kind: str
    ) -> Prepared:
        forum = await self.staff.is_forum(self.bot, chat_id)
        if forum and self._refused.get(chat_id, 0.0) > time.monotonic():
            forum = False  # the bot may not open topics there: a plain group for now
        lang = self.settings.staff_lang
        async with self.sessions() as session:  # a read: no write lock on SQLite
            await session.connection(execution_options=READ_ONLY)
            inquiry = await inquiries_repo.get_inquiry(session, inquiry_id)
            card = await cards.get(session, inquiry_id, chat_id)
            first = await outbox_repo.by_key(session, card_key(inquiry_id, chat_id))
            fresh = await card_payload(session, self.settings, inquiry, lang) if inquiry else None
        if inquiry is None or fresh is None:
            return row.payload
        thread = card.thread_id if card is not None else None
        message_id = card.message_id if card is not None else None
        if forum and thread is None:
            thread = await self._open_topic(inquiry, chat_id)
            message_id = None  # a new topic: the card is not in it yet
        payload = dict(row.payload)
        if kind == "new":
            if message_id is not None:  # already posted (before another row of its topic)
                return Delivered(message_id)
            payload.update(fresh)
            return _in_thread(payload, thread)
        on_its_way = first is not None and first.id != row.id and first.state in (
            OutboxState.PENDING, OutboxState.SENDING
        )  # fmt: skip
        if message_id is None and on_its_way:
            return Later(1.0)  # the card first, then what is said about it
        if kind == "edit":
            if message_id is None:  # the card is gone: posted anew, as it is now
                return Delivered(await self._post_card(inquiry_id, chat_id, thread, fresh))
            payload.update(fresh, message_id=message_id)
            payload.pop("message_thread_id", None)
            return payload
        if kind in ("name", "close", "reopen"):
            return _topic_call(kind, payload, thread, render.topic_name(lang, inquiry))
        return await self._said(payload, inquiry_id, chat_id, forum, thread, message_id, fresh)

    async def _said(
        self, payload: dict[str, Any], inquiry_id: int, chat_id: int, forum: bool,
        thread: int | None, message_id: int | None, fresh: dict[str, Any],
    ) -> Prepared:  # fmt: skip
        """Something said about the inquiry: under its card, in its topic."""
        if forum and message_id is None:  # a topic opened anew: its card comes first
            message_id = await self._post_card(inquiry_id, chat_id, thread, fresh)
        if message_id is not None and (forum or "reply_parameters" not in payload):
            payload["reply_parameters"] = {"message_id": message_id,
                                           "allow_sending_without_reply": True}  # fmt: skip
        return _in_thread(payload, thread)

    async def _open_topic(self, inquiry: Inquiry, chat_id: int) -> int | None:
        """A topic for the inquiry; None if the bot may not open one (it then writes in
        the General topic, as in a plain group)."""
        name = render.topic_name(self.settings.staff_lang, inquiry)
        try:
            topic = await self.bot.create_forum_topic(chat_id, name, rate_limit_args=BULK)
        except BadRequest as exc:  # e.g. the bot lacks the right to manage topics
            log.warning("cannot open a topic for inquiry %s: %s", inquiry.id, exc)
            self._refused[chat_id] = time.monotonic() + REFUSED_FOR
            return None
        thread = topic.message_thread_id
        async with self.sessions() as session, session.begin():
            await cards.ensure(session, inquiry.id, chat_id, utcnow())
            won = await cards.claim_thread(session, inquiry.id, chat_id, None, thread, utcnow())
            if not won:
                other = await cards.get(session, inquiry.id, chat_id)
        if not won:  # another process opened one meanwhile: ours goes
            await self._quietly("deleteForumTopic", chat_id, message_thread_id=thread)
            return other.thread_id if other is not None else None
        log.info("inquiry %s has topic %s in the staff chat", inquiry.id, thread)
        if inquiry.status in CLOSED:
            await self._quietly("closeForumTopic", chat_id, message_thread_id=thread)
        return thread

    async def _post_card(
        self, inquiry_id: int, chat_id: int, thread: int | None, fresh: dict[str, Any]
    ) -> int:
        try:
            sent = await self.bot.do_api_request(
                "sendMessage", api_kwargs=_in_thread({**fresh, "chat_id": chat_id}, thread),
                return_type=Message, rate_limit_args=BULK,
            )  # fmt: skip
        except BadRequest as exc:
            if thread is not None and _topic_gone(str(exc)):
                async with self.sessions() as session, session.begin():
                    await cards.claim_thread(session, inquiry_id, chat_id, thread, None, utcnow())
            raise
        assert isinstance(sent, Message)
        async with self.sessions() as session, session.begin():
            won = await cards.claim_message(
                session, inquiry_id, chat_id, None, sent.message_id, utcnow()
            )
            other = None if won else await cards.get(session, inquiry_id, chat_id)
        if won or other is None or other.message_id is None:
            return sent.message_id
        await self._quietly("deleteMessage", chat_id, message_id=sent.message_id)
        return other.message_id

    async def _quietly(self, method: str, chat_id: int, **params: Any) -> None:
        """Tidying up after a lost race: worth a try, not worth failing a row for."""
        with contextlib.suppress(TelegramError):
            await self.bot.do_api_request(
                method, api_kwargs={**params, "chat_id": chat_id}, rate_limit_args=BULK
            )

    async def sent(
        self, session: AsyncSession, row: OutboxMessage, payload: dict[str, Any],
        message_id: int | None, chat_id: int,
    ) -> None:  # fmt: skip
        inquiry_id = _inquiry_of(row)
        if inquiry_id is None or chat_id >= 0 or message_id is None or _kind(row) != "new":
            return
        await cards.ensure(session, inquiry_id, chat_id, utcnow())
        await cards.claim_message(session, inquiry_id, chat_id, None, message_id, utcnow())

    async def refused(
        self, session: AsyncSession, row: OutboxMessage, payload: dict[str, Any], chat_id: int,
        error: str,
    ) -> str | None:  # fmt: skip
        inquiry_id = _inquiry_of(row)
        if inquiry_id is not None and row.method == "setMessageReaction":
            return DROP  # a receipt on a message the contact deleted: nothing to tell anyone
        if inquiry_id is None or chat_id >= 0:
            return None
        if _topic_gone(error):
            thread = payload.get("message_thread_id")
            if isinstance(thread, int):
                await cards.claim_thread(session, inquiry_id, chat_id, thread, None, utcnow())
            log.info("the topic of inquiry %s is gone: opening a new one", inquiry_id)
            return RETRY
        if _kind(row) == "edit" and "message to edit not found" in error.lower():
            message_id = payload.get("message_id")
            if isinstance(message_id, int):
                await cards.claim_message(session, inquiry_id, chat_id, message_id, None, utcnow())
            return RETRY
        if _kind(row) == "edit" and "there is no text" in error.lower():
            return DROP  # not a text card (an old one): nothing to keep up to date
        return None


def _landed(row: OutboxMessage | None, chat_id: int) -> bool:
    return row is not None and row.state is OutboxState.SENT and row.chat_id == chat_id


def _topic_gone(error: str) -> bool:
    error = error.lower()
    return any(sign in error for sign in TOPIC_GONE)


def _in_thread(payload: dict[str, Any], thread: int | None) -> dict[str, Any]:
    if thread is not None:
        payload["message_thread_id"] = thread
    return payload


def _topic_call(kind: str, payload: dict[str, Any], thread: int | None, name: str) -> Prepared:
    """Rename, close or reopen the inquiry's topic; nothing to do without one."""
    if thread is None:
        return Delivered(None)  # no topic (not a forum): nothing to rename or close
    if kind == "name":
        payload["name"] = name
    return {**payload, "message_thread_id": thread}
