"""Runs the real partnerbot Application in-process, long-polling the fake Bot API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import ALLOWED_UPDATES, PartnerApp, build_application
from bot.settings import Settings
from tests.fakebot import FakeTelegram
from tests.seed import seed_catalog


class BotRunner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: PartnerApp | None = None

    async def start(self) -> PartnerApp:
        app = build_application(self.settings)
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        self.app = app
        return app

    async def stop(self) -> None:
        app, self.app = self.app, None
        if app is None:
            return
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)

    async def restart(self) -> PartnerApp:
        await self.stop()
        return await self.start()

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self.app is not None and self.app.bot_data.sessions is not None
        return self.app.bot_data.sessions


async def start_staffed(tg: FakeTelegram, settings: Settings, staff_chat: int) -> BotRunner:
    """The bot started with a staff group (made in the fake) and a small catalogue: where
    the tests of a contact's inquiries begin."""
    tg.group(staff_chat, title="Cooperation office")
    runner = BotRunner(settings)
    await runner.start()
    await seed_catalog(runner.sessions, count=2)
    return runner
