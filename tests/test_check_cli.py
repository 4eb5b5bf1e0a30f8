"""`partnerbot check` as an operator runs it: a real process against the fake Bot API."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from storage.engine import create_engine
from storage.migrate import upgrade
from tests.constants import TOKEN
from tests.fakebot import FakeTelegram

OTHER_TOKEN = "654321:Another-t0ken-the-fake-does-not-know"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def migrate(db_url: str, revision: str = "head") -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine, revision)
    finally:
        await engine.dispose()


async def run_check(cwd: Path, **env: str) -> tuple[int, list[str], str]:
    """Run `partnerbot check`; returns (exit code, stdout lines, stdout + stderr)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    clean.update(env, PYTHONPATH=str(Path(__file__).parent.parent))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "check",
        cwd=cwd, env=clean,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    stdout = out.decode()
    return proc.returncode, stdout.splitlines(), stdout + err.decode()


def line(lines: list[str], what: str) -> str:
    found = [x for x in lines if f"  {what}:" in x]
    assert len(found) == 1, lines
    return found[0]


def assert_no_token(output: str, *tokens: str) -> None:
    for token in tokens:
        assert token not in output
        assert token.split(":")[1] not in output


@pytest.fixture
def env(tg: FakeTelegram, db_url: str) -> dict[str, str]:
    return {
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": db_url,
        "TELEGRAM_API_URL": tg.base_url,
        "TELEGRAM_FILE_URL": tg.file_url,
        "LOG_LEVEL": "DEBUG",
    }


async def test_all_ok(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    await migrate(db_url)
    code, lines, output = await run_check(tmp_path, **env)
    assert code == 0, output
    assert line(lines, "settings").startswith("OK")
    assert line(lines, "database").startswith("OK")
    assert "migrations at head" in line(lines, "database")
    api = line(lines, "Bot API")
    assert api.startswith("OK") and "@" in api
    assert line(lines, "webhook").startswith("OK")  # not used: polling
    assert lines[-1] == "All checks passed."
    assert_no_token(output, TOKEN)


async def test_rejected_token_fails(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    await migrate(db_url)
    code, lines, output = await run_check(tmp_path, **dict(env, BOT_TOKEN=OTHER_TOKEN))
    assert code == 1
    api = line(lines, "Bot API")
    assert api.startswith("FAIL") and "rejected BOT_TOKEN" in api and "@BotFather" in api
    assert line(lines, "database").startswith("OK")  # the other checks still ran
    assert_no_token(output, TOKEN, OTHER_TOKEN)


async def test_unreachable_api_fails(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    await migrate(db_url)
    closed = f"http://127.0.0.1:{free_port()}/bot"
    code, lines, output = await run_check(tmp_path, **dict(env, TELEGRAM_API_URL=closed))
    assert code == 1
    api = line(lines, "Bot API")
    assert api.startswith("FAIL") and "cannot reach" in api and closed in api
    assert_no_token(output, TOKEN)


async def test_database_behind_fails(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    await migrate(db_url, "0001")
    code, lines, output = await run_check(tmp_path, **env)
    assert code == 1
    db = line(lines, "database")
    assert db.startswith("FAIL") and "at migration 0001" in db
    assert "run `partnerbot db upgrade`" in db
    assert line(lines, "Bot API").startswith("OK")
    assert_no_token(output, TOKEN)


async def test_database_never_migrated_fails(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    code, lines, output = await run_check(tmp_path, **env)
    assert code == 1
    db = line(lines, "database")
    assert db.startswith("FAIL") and "run `partnerbot db upgrade`" in db
    if db_url.startswith("sqlite"):  # and the check did not create the file on the way
        assert not Path(db_url.split("///", 1)[1]).exists()
    assert_no_token(output, TOKEN)


async def test_unreachable_database_fails(env: dict[str, str], tmp_path: Path) -> None:
    bad = f"postgresql+asyncpg://u:pw-secret@127.0.0.1:{free_port()}/db"
    code, lines, output = await run_check(tmp_path, **dict(env, DATABASE_URL=bad))
    assert code == 1
    db = line(lines, "database")
    assert db.startswith("FAIL") and "cannot open" in db and "DATABASE_URL" in db
    assert "pw-secret" not in output  # the password is hidden like the token


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        ({"WEBHOOK_URL": "http://bot.example.org/hook", "WEBHOOK_SECRET": "s3cret"}, "https://"),
        ({"WEBHOOK_URL": "https://bot.example.org:9000/hook", "WEBHOOK_SECRET": "s"}, "port 9000"),
        ({"WEBHOOK_URL": "https://bot.example.org/hook"}, "WEBHOOK_SECRET is not set"),
        ({"WEBHOOK_URL": "https://bot.example.org/hook", "WEBHOOK_SECRET": "a b"}, "only letters"),
    ],
)
async def test_inconsistent_webhook_fails(
    env: dict[str, str], db_url: str, tmp_path: Path, webhook: dict[str, str], expected: str
) -> None:
    await migrate(db_url)
    code, lines, output = await run_check(tmp_path, **env, **webhook)
    assert code == 1
    hook = line(lines, "webhook")
    assert hook.startswith("FAIL") and expected in hook
    assert_no_token(output, TOKEN)


async def test_consistent_webhook_passes(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    await migrate(db_url)
    webhook = {
        "WEBHOOK_URL": "https://bot.example.org/telegram-hook",
        "WEBHOOK_SECRET": "s3cret-Value_1",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": "8081",
    }
    code, lines, output = await run_check(tmp_path, **env, **webhook)
    assert code == 0, output
    hook = line(lines, "webhook")
    assert hook.startswith("OK") and "127.0.0.1:8081/telegram-hook" in hook
    assert "s3cret-Value_1" not in output
