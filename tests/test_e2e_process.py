"""The real `partnerbot run` process against the fake Bot API: polling and webhook."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.constants import ADMIN_ID, TOKEN
from tests.fakebot import FakeTelegram


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """`partnerbot run`, its output in a file: a pipe nobody reads fills up at 64 KB and
    then stalls the process in the middle of a log line (DEBUG is chatty)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr = b""
        self._log: IO[bytes] | None = None

    async def start(self) -> None:
        self._log = tempfile.TemporaryFile(dir=self.cwd)  # noqa: SIM115 - closed in stop()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run",
            cwd=self.cwd, env=self.env, stdout=self._log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None and self._log is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        await asyncio.wait_for(self.proc.wait(), timeout=30)
        self._log.seek(0)
        self.stderr += self._log.read()
        self._log.close()
        return self.proc.returncode if self.proc.returncode is not None else -1


@pytest.fixture
async def process_env(
    tg: FakeTelegram, db_url: str, tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    env.update(
        BOT_TOKEN=TOKEN,
        DATABASE_URL=db_url,
        ADMIN_IDS=str(ADMIN_ID),
        TELEGRAM_API_URL=tg.base_url,
        TELEGRAM_FILE_URL=tg.file_url,
        LOG_LEVEL="DEBUG",  # the noisiest level, to prove the token stays out even there
        PYTHONPATH=str(Path(__file__).parent.parent),
    )
    yield env


async def test_run_process_polls_answers_and_survives_restart(
    tg: FakeTelegram, process_env: dict[str, str], tmp_path: Path
) -> None:
    bot = BotProcess(process_env, tmp_path)
    await bot.start()
    try:
        en = tg.user(3001, first_name="Ada", language_code="en")
        zh = tg.user(3002, first_name="张伟", language_code="zh-hans")
        reply = await en.send_and_wait("/start", timeout=30)
        assert "Main menu" in reply.text
        assert reply.button_labels() == [
            "📚 Programmes",
            "🔍 Search",
            "📋 My inquiries",
            "💬 Ask a question",
            "❓ Help",
            "🌐 Language",
        ]
        reply = await zh.send_and_wait("/start", timeout=10)
        assert "主菜单" in reply.text
        assert reply.button_labels() == [
            "📚 合作项目",
            "🔍 搜索",
            "📋 我的咨询",
            "💬 提问",
            "❓ 帮助",
            "🌐 语言",
        ]
        await en.send_and_wait("/language")
        await en.press("简体中文")
        await en.expect_message()
    finally:
        code = await bot.stop(signal.SIGTERM)
    assert code == 0, bot.stderr.decode(errors="replace")[-2000:]

    again = BotProcess(process_env, tmp_path)
    await again.start()
    try:
        reply = await tg.user(3001).send_and_wait("/start", timeout=30)
        assert "主菜单" in reply.text  # Ada's choice of Chinese survived the restart
    finally:
        code = await again.stop(signal.SIGINT)
    assert code == 0
    logs = (bot.stderr + again.stderr).decode(errors="replace")
    assert "getUpdates" in logs  # DEBUG logging did show request URLs...
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs  # ...without the token


async def test_webhook_checks_secret(
    tg: FakeTelegram, process_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    env = dict(
        process_env,
        WEBHOOK_URL=url,
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port),
        WEBHOOK_SECRET="s3cret-Value_1",
    )
    bot = BotProcess(env, tmp_path)
    await bot.start()
    try:
        info = await tg.wait_for_webhook(timeout=30)
        assert info["url"] == url
        assert info["secret_token"] == "s3cret-Value_1"
        update = tg.user(3003, first_name="Web", language_code="en").make_update("/start")
        async with httpx.AsyncClient() as client:
            refused = await client.post(url, json=update)
            assert refused.status_code == 403
            wrong = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
            )
            assert wrong.status_code == 403
            assert tg.chat(3003) == []
            ok = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Value_1"}
            )
            assert ok.status_code == 200
        reply = await tg.user(3003).expect_message(timeout=15)
        assert "Main menu" in reply.text
    finally:
        code = await bot.stop()
    assert code == 0
    assert TOKEN not in bot.stderr.decode(errors="replace")
