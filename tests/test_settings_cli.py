"""Start-up with bad settings: one line naming the setting, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from tests.constants import TOKEN

SETTING_NAMES = [
    "BOT_TOKEN", "DATABASE_URL", "ADMIN_IDS", "STAFF_CHAT_ID", "TIMEZONE", "DEFAULT_LANGUAGE",
    "TELEGRAM_API_URL", "TELEGRAM_FILE_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_LISTEN",
    "WEBHOOK_PORT", "SEND_RATE", "LOG_LEVEL",
]  # fmt: skip


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,  # no .env there
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN is invalid"),
        ({"BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL is invalid"),
        ({"BOT_TOKEN": TOKEN, "DATABASE_URL": "::nonsense::"}, "DATABASE_URL is invalid"),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12345,alice"}, "ADMIN_IDS is invalid"),
        ({"BOT_TOKEN": TOKEN, "TIMEZONE": "Mars/Olympus"}, "TIMEZONE is invalid"),
        ({"BOT_TOKEN": TOKEN, "WEBHOOK_PORT": "99999"}, "WEBHOOK_PORT is invalid"),
    ],
)
def test_bad_setting_is_one_line_exit_2(tmp_path: Path, env: dict[str, str], named: str) -> None:
    result = run_cli(tmp_path, env, "run")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_unreachable_database_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATABASE_URL": "postgresql+asyncpg://u:p@127.0.0.1:1/db"}
    result = run_cli(tmp_path, env, "db", "upgrade")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("partnerbot: DATABASE_URL")
    assert "Traceback" not in result.stderr


def test_help_lists_commands(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {}, "--help")
    assert result.returncode == 0
    for command in ("run", "db"):
        assert command in result.stdout


def test_db_upgrade_creates_sqlite_file(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {"BOT_TOKEN": TOKEN}, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "partnerbot.sqlite3").exists()


def test_admin_ids_forms() -> None:
    assert load_settings(bot_token=TOKEN, admin_ids="12345").admin_ids == {12345}
    assert load_settings(bot_token=TOKEN, admin_ids="12345, 67890").admin_ids == {12345, 67890}
    assert load_settings(bot_token=TOKEN, admin_ids="").admin_ids == frozenset()


def test_sync_database_urls_map_to_async_drivers() -> None:
    s = load_settings(bot_token=TOKEN, database_url="postgresql://u:p%40ss@db:5432/pb")
    assert s.database_url == "postgresql+asyncpg://u:p%40ss@db:5432/pb"
    s = load_settings(bot_token=TOKEN, database_url="sqlite:///x.db")
    assert s.database_url == "sqlite+aiosqlite:///x.db"


def test_example_env_documents_every_setting() -> None:
    text = (Path(__file__).parent.parent / "config.example.env").read_text()
    documented = {
        line.split("=")[0] for line in text.splitlines() if "=" in line and not line.startswith("#")
    }
    from bot.settings import Settings

    assert {name.upper() for name in Settings.model_fields} == documented


def test_settings_error_never_echoes_token() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(bot_token=TOKEN, database_url="mysql://x")
    assert TOKEN not in str(info.value)
