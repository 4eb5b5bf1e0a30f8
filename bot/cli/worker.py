"""`partnerbot worker`: only the delivery engines (outbox sender, reminders, digests…),
for scale-out. No Updater and no webhook: the Application is started for its JobQueue,
which wakes the engines, and stops cleanly on SIGTERM (unsent rows handed back)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from bot.cli.common import EXIT_OK, Commands, StopRequests, command, prepare
from bot.settings import Settings

log = logging.getLogger("partnerbot")


def add_command(commands: Commands) -> None:
    help_ = "run only the delivery engines (outbox sender, reminders), for scale-out"
    command(commands, "worker", help_, cmd_worker)


def cmd_worker(_args: argparse.Namespace, settings: Settings) -> int:
    early = StopRequests()
    asyncio.run(prepare(settings))
    if not early.requested:
        asyncio.run(_work(settings, early))
    log.info("stopped")
    return EXIT_OK


async def _work(settings: Settings, early: StopRequests) -> None:
    from bot.app import build_application

    app = build_application(settings, migrate=False, web=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if early.requested:  # between the migration and these handlers
        stop.set()
    # PTB's own order (as run_polling): initialize, post_init, start … stop, post_stop,
    # shutdown, post_shutdown.
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()  # the JobQueue: the engines' jobs run from here on
        log.info("worker running")
        await stop.wait()
        await app.stop()  # the engines stop first, then the JobQueue
        if app.post_stop is not None:
            await app.post_stop(app)
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
