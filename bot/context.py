"""The typed context every handler gets: settings, a unit of work, and who is asking."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.catalog.miniapp import FacetCache
from bot.catalog.search import SearchCache
from bot.engines.outbox import OutboxSender
from bot.engines.report_gate import ReportGate
from bot.engines.send_share import SendShare
from bot.engines.staff_chat import StaffChat
from bot.engines.wakeup import EngineJob
from bot.forms.engine import Forms, Saved
from bot.people.person import Person
from bot.people.senders import Senders, changed_in
from bot.settings import Settings
from bot.traffic.answers import PendingAnswers
from storage.engine import unit_of_work
from storage.models import utcnow


class AnsweredQueries:
    """Button presses already answered (Telegram refuses a second answer, and paths that
    answer early may hand over to ones that would answer again); the newest few
    thousand, which is far more than are pending at any moment."""

    MEMORY = 2048

    def __init__(self) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, query_id: object) -> bool:
        return query_id in self._ids

    def add(self, query_id: str) -> bool:
        """Record it; False when it was answered already."""
        if query_id in self._ids:
            return False
        self._ids[query_id] = None
        if len(self._ids) > self.MEMORY:
            self._ids.popitem(last=False)
        return True


@dataclass
class Runtime:
    """Process-wide resources, created in post_init and disposed of in post_shutdown."""

    settings: Settings | None = None
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    bot_username: str = ""
    outbox: OutboxSender | None = None
    jobs: list[EngineJob] = field(default_factory=list)  # one per engine (bot/engines/wakeup.py)
    send_share: SendShare | None = None
    staff_chat: StaffChat | None = None  # where the staff chat is now (bot/staff_chat.py)
    extras: dict[str, Any] = field(default_factory=dict)
    error_reports: ReportGate = field(default_factory=ReportGate)
    forms: Forms = field(default_factory=Forms)  # every form, registered by bot/app.py
    after_save: dict[str, AfterSave] = field(default_factory=dict)  # form name → its hook
    search: SearchCache = field(default_factory=SearchCache)  # this process's search copy
    facets: FacetCache = field(default_factory=FacetCache)  # the Mini App catalogue's counts
    answered: AnsweredQueries = field(default_factory=AnsweredQueries)

    @asynccontextmanager
    async def unit(self, *, write: bool, person_id: int | None) -> AsyncIterator[AsyncSession]:
        """A unit of work for whoever asks (an update's sender, a Mini App caller): a
        write drops what it may have changed about a person (their form, language, role,
        their very record; theirs, and whoever it names with senders.changed) from the
        sender cache, so it is read afresh next time, committed or not."""
        if not write:
            async with unit_of_work(self.sessions, write=False) as session:
                yield session
            return
        unit: AsyncSession | None = None
        try:
            async with unit_of_work(self.sessions, write=True) as unit:
                yield unit
        finally:
            dropped = changed_in(unit) if unit is not None else set()
            if person_id is not None:
                dropped.add(person_id)
            self.senders.forget(dropped)

    def wake_engines(self) -> None:
        """After a commit that queued messages or reminders: the engines look now."""
        if self.outbox is not None:
            self.outbox.wake()
        for job in self.jobs:
            job.wake()

    senders: Senders = field(default_factory=Senders)  # recently recognised (people/senders)
    answers: PendingAnswers = field(default_factory=PendingAnswers)  # in flight (traffic/answers)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], Runtime]):
    """One per update: PTB shares it across handler groups, so `person` set in the
    pre-handler (group -1) is there for the feature handlers."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.person: Person | None = None

    @property
    def runtime(self) -> Runtime:
        return self.bot_data

    @property
    def settings(self) -> Settings:
        settings = self.bot_data.settings
        if settings is None:
            raise RuntimeError("settings are not loaded yet (post_init has not run)")
        return settings

    @property
    def sender(self) -> Person:
        """Who sent the update; the group -1 pre-handler sets it before any feature runs."""
        if self.person is None:
            raise RuntimeError("update reached a feature handler without a recognized sender")
        return self.person

    @property
    def staff_chat(self) -> StaffChat:
        staff = self.bot_data.staff_chat
        if staff is None:
            raise RuntimeError("the staff chat is not known yet (post_init has not run)")
        return staff

    def wake_engines(self) -> None:
        """Call after committing queued messages or new reminders, so the engines look now
        rather than at their next tick."""
        self.bot_data.wake_engines()

    def now(self) -> datetime:
        """UTC now (tests move it with time-machine)."""
        return utcnow()

    @property
    def lang(self) -> str:
        return self.person.language if self.person else self.settings.default_language

    @asynccontextmanager
    async def db(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends normally, rolls back on error.
        Read-only unless `write`: on SQLite a read takes no write lock, so a page of the
        catalogue never waits for someone else's write (WAL readers run alongside), and
        a write slipped into a read unit fails loudly (storage/engine.py)."""
        person_id = self.person.id if self.person is not None else None
        async with self.bot_data.unit(write=write, person_id=person_id) as session:
            yield session


AfterSave = Callable[[Update, BotContext, Person, Saved], Coroutine[Any, Any, None]]
CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=Runtime)
