"""The staff chat: where staff cards go, and whether they can go there.

STAFF_CHAT_ID names the staff group, but Telegram can change it under us: when a group
becomes a supergroup its id changes (the Bot API answers ChatMigrated), and the bot can
be removed from it (403). What the bot learns is kept in bot_state, so every process
sends to the same place:

- `staff_chat.moved:<old id>` = the new id, followed from STAFF_CHAT_ID;
- `staff_chat.unreachable:<id>` = since when the bot cannot post there. Meanwhile staff
  cards go to the admins privately (they are told once); a message from the staff chat,
  or the bot being added back, clears it.

Services read this inside their own transaction (`targets`); the pre-handler, which sees
every group update, reads it through the process cache (`StaffChat.current`), refreshed
every few seconds and at once after this process changed it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import ChatMigrated, Forbidden

from bot.engines import outbox
from bot.settings import Settings
from bot.ui.i18n import t
from storage import bot_state as state_repo
from storage import inquiries as inquiries_repo
from storage import outbox as outbox_repo
from storage import users as users_repo
from storage.models import OutboxMessage, OutboxState, Role, utcnow

log = logging.getLogger(__name__)

PREFIX = "staff_chat."
MOVED, UNREACHABLE = PREFIX + "moved:", PREFIX + "unreachable:"
CACHE_SECONDS = 5.0
FORUM_SECONDS = 600.0  # how long getChat's is_forum is believed (topics are rarely toggled)
MAX_MOVES = 5  # a group migrates once; more hops than this would be a corrupt table
BACK = frozenset({"member", "administrator"})  # my_chat_member statuses: we may post
GONE = frozenset({"left", "kicked"})


@dataclass(frozen=True)
class State:
    chat_id: int | None  # after migrations; None when STAFF_CHAT_ID is not set
    reachable: bool = True

    @property
    def usable(self) -> int | None:
        return self.chat_id if self.reachable else None


async def load(session: AsyncSession, settings: Settings) -> State:
    if settings.staff_chat_id is None:
        return State(None)
    known = await state_repo.with_prefix(session, PREFIX)
    chat_id = settings.staff_chat_id
    for _ in range(MAX_MOVES):
        moved = known.get(f"{MOVED}{chat_id}", "")
        if not moved.lstrip("-").isdigit():
            break
        chat_id = int(moved)
    return State(chat_id, f"{UNREACHABLE}{chat_id}" not in known)


async def admin_targets(session: AsyncSession, settings: Settings) -> list[tuple[int, str]]:
    """Every admin (ADMIN_IDS and promoted ones) who has not blocked the bot, with the
    language to write to them in."""
    ids = set(settings.admin_ids) | set(await inquiries_repo.staff_ids(session, Role.ADMIN))
    targets: list[tuple[int, str]] = []
    for admin_id in sorted(ids):
        user = await users_repo.get_user(session, admin_id)
        if user is None or user.blocked_at is None:
            targets.append((admin_id, user.language if user else settings.default_language))
    return targets


async def targets(session: AsyncSession, settings: Settings) -> list[tuple[int, str]]:
    """Where staff notifications go: the staff chat while the bot can post there, else
    every admin (with language)."""
    state = await load(session, settings)
    if state.usable is not None:
        return [(state.usable, settings.staff_lang)]
    return await admin_targets(session, settings)


async def adopt(
    session: AsyncSession, settings: Settings, old_chat_id: int, new_chat_id: int, now: datetime
) -> bool:
    """The group `old_chat_id` is now `new_chat_id`; if it was the staff chat, follow it,
    together with everything queued to it. True if it was the staff chat."""
    state = await load(session, settings)
    if state.chat_id != old_chat_id or new_chat_id == old_chat_id:
        return False
    await state_repo.put(session, f"{MOVED}{old_chat_id}", str(new_chat_id), now)
    await state_repo.remove(session, f"{UNREACHABLE}{old_chat_id}")
    await outbox_repo.retarget(session, old_chat_id, new_chat_id)
    log.info("the staff chat %s is now %s", old_chat_id, new_chat_id)
    return True


async def lose(session: AsyncSession, settings: Settings, chat_id: int, now: datetime) -> bool:
    """The bot cannot post in `chat_id`. If that is the staff chat: mark it, tell the
    admins (the first process to mark it does, once), and send what was queued there to
    the admins instead. True if it was the staff chat."""
    state = await load(session, settings)
    if state.chat_id != chat_id:
        return False
    if await state_repo.put_new(session, f"{UNREACHABLE}{chat_id}", now.isoformat(), now):
        log.warning("the bot cannot post in the staff chat %s: cards go to the admins", chat_id)
        episode = int(now.timestamp())
        for admin_id, lang in await admin_targets(session, settings):
            await outbox.queue(
                session, admin_id, outbox.payload_text(t(lang, "staffchat.lost")),
                ref="staff-chat", dedupe_key=f"staffchat:lost:{chat_id}:{episode}:{admin_id}",
            )  # fmt: skip
    queued = await outbox_repo.pending_to(session, chat_id)
    for row in queued:
        await reroute(session, settings, row)
    note = "the bot cannot post in the staff chat: re-sent to the admins"
    await outbox_repo.close_rows(session, [r.id for r in queued], OutboxState.BLOCKED, note)
    return True


# Features that can write a staff-chat message again for each admin in their own
# language (bot/inquiries.py: the card of a new inquiry). Each says whether it did.
Rewriter = Callable[[AsyncSession, Settings, OutboxMessage], Awaitable[bool]]
rewriters: list[Rewriter] = []


async def reroute(session: AsyncSession, settings: Settings, row: OutboxMessage) -> None:
    """What was meant for the staff chat, for each admin privately: written anew in their
    language where the feature can (a card), else a copy in the staff chat's language."""
    for rewrite in rewriters:
        if await rewrite(session, settings, row):
            return
    payload: dict[str, Any] = {k: v for k, v in row.payload.items() if k != "reply_parameters"}
    for admin_id, _ in await admin_targets(session, settings):
        await outbox.queue(
            session, admin_id, payload, method=row.method, priority=row.priority, ref=row.ref,
            dedupe_key=_rerouted_key(row, admin_id),
        )  # fmt: skip


def _rerouted_key(row: OutboxMessage, admin_id: int) -> str:
    # A card's key ends with its chat ("inq:5:new:-100777"): the copy gets the key the
    # admin's own card would have ("inq:5:new:9001"), so an admin who also got the card
    # as the programme's owner does not get it twice.
    suffix = f":{row.chat_id}"
    if row.dedupe_key and row.dedupe_key.endswith(suffix):
        return row.dedupe_key[: -len(suffix)] + f":{admin_id}"
    return f"rerouted:{row.id}:{admin_id}"


async def regain(session: AsyncSession, settings: Settings, chat_id: int) -> bool:
    """The bot can post in `chat_id` again (a message came from it, or it was added
    back): staff cards go there again. True if a mark was cleared."""
    state = await load(session, settings)
    if state.chat_id != chat_id or state.reachable:
        return False
    log.info("the staff chat %s is reachable again", chat_id)
    return await state_repo.remove(session, f"{UNREACHABLE}{chat_id}")


class StaffChat:
    """The process's view of the staff chat (in the Runtime), and what the outbox sender
    calls when a group send fails (bot.outbox.ChatEvents)."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings, self.sessions = settings, sessions
        self._state = State(settings.staff_chat_id)
        self._read_at = float("-inf")
        self._forums: dict[int, tuple[bool, float]] = {}  # chat id → (is_forum, when asked)

    async def current(self) -> State:
        if self.settings.staff_chat_id is None:
            return self._state
        if time.monotonic() - self._read_at > CACHE_SECONDS:
            async with self.sessions() as session:  # a read: no write lock on SQLite
                await session.connection(execution_options={"sqlite_readonly": True})
                self._state = await load(session, self.settings)
            self._read_at = time.monotonic()
        return self._state

    def changed(self) -> None:
        self._read_at = float("-inf")

    async def is_forum(self, bot: Any, chat_id: int) -> bool:
        """Whether the chat is a forum supergroup (topics on), as getChat says; asked
        again after FORUM_SECONDS, so turning topics on is noticed without a restart."""
        known = self._forums.get(chat_id)
        if known is not None and time.monotonic() - known[1] < FORUM_SECONDS:
            return known[0]
        chat = await bot.get_chat(chat_id)
        value = bool(getattr(chat, "is_forum", False))
        self._forums[chat_id] = (value, time.monotonic())
        return value

    async def on_update(
        self, chat_id: int, *, member_status: str | None = None,
        migrated_from: int | None = None, migrated_to: int | None = None,
    ) -> bool:  # fmt: skip
        """Is this group update from the staff chat? What it says about the chat is
        learned on the way: Telegram's notes of a migration (in the old group and in the
        new supergroup), the bot removed or added back, or simply a message there."""
        state = await self.current()
        if state.chat_id is None:
            return False
        if migrated_to is not None and chat_id == state.chat_id:
            await self._adopt(chat_id, migrated_to)
            return True
        if migrated_from is not None and migrated_from == state.chat_id:
            await self._adopt(migrated_from, chat_id)
            return True
        if chat_id != state.chat_id:
            return False
        if member_status in GONE:
            await self._lose(chat_id)
        elif not state.reachable and (member_status is None or member_status in BACK):
            await self._regain(chat_id)
        return True

    async def _adopt(self, old_chat_id: int, new_chat_id: int) -> None:
        async with self.sessions() as session, session.begin():
            await adopt(session, self.settings, old_chat_id, new_chat_id, utcnow())
        self.changed()

    async def _lose(self, chat_id: int) -> None:
        async with self.sessions() as session, session.begin():
            await lose(session, self.settings, chat_id, utcnow())
        self.changed()

    async def _regain(self, chat_id: int) -> None:
        async with self.sessions() as session, session.begin():
            await regain(session, self.settings, chat_id)
        self.changed()

    async def post(self, bot: Any, text: str) -> None:
        """Post a note in the staff chat right now (the error handler's report); if
        Telegram says the chat moved or shut us out, remember that. Nothing if there is
        no staff chat to post in."""
        target = (await self.current()).usable
        if target is None:
            return
        try:
            await bot.send_message(target, text, parse_mode="HTML")
        except ChatMigrated as exc:
            await self._adopt(target, exc.new_chat_id)
            await bot.send_message(exc.new_chat_id, text, parse_mode="HTML")
        except Forbidden:
            await self._lose(target)

    # --- bot.outbox.ChatEvents --------------------------------------------------------

    async def migrated(self, session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
        await adopt(session, self.settings, old_chat_id, new_chat_id, utcnow())

    async def forbidden(
        self, session: AsyncSession, chat_id: int, row: OutboxMessage, error: str
    ) -> bool:
        if not await lose(session, self.settings, chat_id, utcnow()):
            return False
        await reroute(session, self.settings, row)
        return True
