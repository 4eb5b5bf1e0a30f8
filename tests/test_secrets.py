"""Secrets never reach output: the token, the webhook secret (explicit or derived) and
the database password, however the password is written, in logs at every level, in
every error line of the command line, and in repr() of the settings."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot import logs
from bot.formats import url_secrets
from bot.settings import load_settings
from tests.constants import TOKEN
from tests.databases import new_pg_database
from tests.fakebot import FakeTelegram
from tests.test_e2e_process import BotProcess, free_port
from tests.test_settings_cli import run_cli

# A generated password as operators paste it: raw `@`, `:`, `/` and `#` in it.
PASSWORD = "Pg-p@ss:w/rd#42"
# What a strict parser would print of it: the part after its `@`, taken for the host.
FRAGMENTS = [PASSWORD, "ss:w/rd#42", "w/rd#42", "rd#42", "Pg-p%40ss"]
SHORT = "p@ss"  # under logs.MIN_SECRET: hidden where a password stands, not everywhere


def assert_hidden(output: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in output, f"{secret!r} leaked:\n{output[-3000:]}"


# --- masking URLs, however they are written ----------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p@ss@db/pb", "postgresql://u:***@db/pb"),
        ("postgresql://u:p%40ss@db:5432/pb", "postgresql://u:***@db:5432/pb"),
        (f"postgresql+asyncpg://u:{PASSWORD}@127.0.0.1:1/db", "postgresql+asyncpg://u:***@127.0.0.1:1/db"),
        ("postgresql://u:a:b@db/pb", "postgresql://u:***@db/pb"),
        ("postgresql://u@x:pw@db/pb", "postgresql://u@x:***@db/pb"),  # Azure-style user
        ("postgresql://:pw@db/pb", "postgresql://:***@db/pb"),
        ("postgresql://u:@db/pb", "postgresql://u:***@db/pb"),
        ("postgresql://u@db/pb", "postgresql://u@db/pb"),
        ("postgresql://db/pb", "postgresql://db/pb"),
        ("sqlite+aiosqlite:///data/x.sqlite3", "sqlite+aiosqlite:///data/x.sqlite3"),
        ("not a url", "not a url"),
    ],
)  # fmt: skip
def test_mask_hides_the_password_however_written(url: str, shown: str) -> None:
    assert url_secrets.mask(url) == shown


def test_mask_in_text_finds_urls_in_error_lines() -> None:
    line = f"cannot open 'postgresql://u:{PASSWORD}@db/pb' (refused); retry postgres://a:b@c/d"
    masked = url_secrets.mask_in_text(line)
    assert masked == "cannot open 'postgresql://u:***@db/pb' (refused); retry postgres://a:***@c/d"
    assert (
        url_secrets.mask_in_text("https://t.me/bot?start=inv_x") == "https://t.me/bot?start=inv_x"
    )


@pytest.mark.parametrize(
    ("written", "password", "host"),
    [
        ("postgresql://u:p@ss@db/pb", "p@ss", "db"),
        (f"postgresql://u:{PASSWORD}@db:5432/pb", PASSWORD, "db"),
        ("postgresql://u:p@s:s@db:5432/pb", "p@s:s", "db"),
        ("postgresql://u:p%40ss@db/pb", "p@ss", "db"),  # already encoded: kept
        ("postgresql://u:50%off@db/pb", "50%off", "db"),  # a bare % is a character
        ("postgresql://u:pw@db/pb?application_name=a@b", "pw", "db"),  # valid: untouched
    ],
)
def test_settings_read_unencoded_passwords_as_meant(written: str, password: str, host: str) -> None:
    settings = load_settings(bot_token=TOKEN, database_url=written)
    url = make_url(settings.database_url)
    assert (url.drivername, url.password, url.host) == ("postgresql+asyncpg", password, host)
    assert url.database == "pb"


def test_repr_and_str_of_settings_show_no_secret() -> None:
    for password in (PASSWORD, SHORT):
        settings = load_settings(
            bot_token=TOKEN,
            webhook_secret="hook-Secret_42",
            database_url=f"postgresql://partnerbot:{password}@db/pb",
        )
        for text in (repr(settings), str(settings)):
            assert "postgresql+asyncpg://partnerbot:***@db/pb" in text
            assert_hidden(text, TOKEN, TOKEN.split(":")[1], "hook-Secret_42", *FRAGMENTS)
            assert "p%40ss" not in text and ":p@ss" not in text


def test_empty_webhook_secret_means_derived(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.example.env leaves WEBHOOK_SECRET empty: a derived one, never an empty one."""
    monkeypatch.setenv("WEBHOOK_SECRET", "")
    settings = load_settings(bot_token=TOKEN, _env_file=None)
    assert settings.webhook_secret is None and len(settings.webhook_token) == 48


def test_secret_values_cover_every_form() -> None:
    settings = load_settings(bot_token=TOKEN, database_url=f"postgresql://u:{PASSWORD}@db/pb")
    values = settings.secret_values()
    assert TOKEN in values and settings.webhook_token in values  # derived: no WEBHOOK_SECRET
    assert PASSWORD in values
    parts = url_secrets.split(settings.database_url)
    assert parts is not None and parts.password in values


def test_redact_hides_short_secrets_where_they_stand() -> None:
    logs.add_secrets(["abc"])  # too short to hide everywhere...
    assert logs.redact("abc") == "abc"
    # ...but a webhook secret of any length is hidden as a parameter or header value,
    line = "Calling Bot API endpoint `setWebhook` with parameters `{'url': 'https://x/h', 'secret_token': 'abc', 'max_connections': 40}`"  # noqa: E501
    assert "'abc'" not in logs.redact(line) and "'secret_token': '[REDACTED]'" in logs.redact(line)
    assert logs.redact("X-Telegram-Bot-Api-Secret-Token: abc") == (
        "X-Telegram-Bot-Api-Secret-Token: [REDACTED]"
    )
    # ...and a password of any length wherever it is a URL's password.
    assert logs.redact(f"postgresql://u:{SHORT}@db/x down") == "postgresql://u:***@db/x down"


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logs.add_secrets([PASSWORD])
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("partnerbot.test").debug("connect %s as %r", "db", PASSWORD)
        try:
            raise RuntimeError(f"auth failed with {PASSWORD}")
        except RuntimeError:
            logging.getLogger("partnerbot.test").exception("boom")
    assert_hidden(caplog.text, PASSWORD)
    assert "[REDACTED]" in caplog.text


# --- error lines of the command line ------------------------------------------------------


@pytest.mark.parametrize("password", [PASSWORD, SHORT, "p%40ss-W0rd-long"])
@pytest.mark.parametrize("command", [("db", "upgrade"), ("check",), ("run",)])
def test_unreachable_database_lines_hide_the_password(
    tmp_path: Path, password: str, command: tuple[str, ...]
) -> None:
    env = {
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"postgresql://u:{password}@127.0.0.1:{free_port()}/db",
        "TELEGRAM_API_URL": "http://127.0.0.1:9/bot",  # check: nothing answers there either
        "LOG_LEVEL": "DEBUG",
    }
    result = run_cli(tmp_path, env, *command)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2), output
    assert "Traceback" not in output
    assert "u:***@127.0.0.1" in output  # the URL is shown, its password not
    fragments = {password, password.split("@")[-1] + "@127", "ss@127", "W0rd-long"}
    if password == PASSWORD:
        fragments |= set(FRAGMENTS)
    assert_hidden(output, *fragments)


def test_bad_copy_source_hides_its_password(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    bad = f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/db"
    result = run_cli(tmp_path, env, "db", "copy", "--from", bad)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2) and "Traceback" not in output, output
    assert_hidden(output, *FRAGMENTS)


# --- the real process at DEBUG, in webhook mode -------------------------------------------


@pytest.mark.parametrize(
    "secret", ["hook-Secret_42-long", "Ab3_x", None], ids=["explicit", "short", "derived"]
)
async def test_webhook_process_at_debug_shows_no_secret(
    tg: FakeTelegram, pg_server: str | None, tmp_path: Path, secret: str | None
) -> None:
    if pg_server is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    server = make_url(await new_pg_database(pg_server))
    # The test cluster trusts local connections, so any password connects; written raw.
    db_url = (
        f"postgresql://{server.username}:{PASSWORD}@{server.host}:{server.port}/{server.database}"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    env.update(
        BOT_TOKEN=TOKEN, DATABASE_URL=db_url, TELEGRAM_API_URL=tg.base_url,
        TELEGRAM_FILE_URL=tg.file_url, LOG_LEVEL="DEBUG", WEBHOOK_URL=url,
        WEBHOOK_LISTEN="127.0.0.1", WEBHOOK_PORT=str(port),
        PYTHONPATH=str(Path(__file__).parent.parent),
    )  # fmt: skip
    if secret is not None:
        env["WEBHOOK_SECRET"] = secret
    bot = BotProcess(env, tmp_path)
    await bot.start()
    try:
        info = await tg.wait_for_webhook(timeout=30)
        used = info["secret_token"]
        assert used == secret if secret else len(used) == 48
        user = tg.user(4201, first_name="Debug", language_code="en")
        assert "Main menu" in (await user.send_and_wait("/start", timeout=15)).text
        async with httpx.AsyncClient() as client:  # a refused request is logged too
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "nope"}
            refused = await client.post(url, json=user.make_update("/start"), headers=wrong)
        assert refused.status_code == 403
    finally:
        code = await bot.stop(signal.SIGTERM)
    output = bot.stderr.decode(errors="replace")
    assert code == 0, output[-3000:]
    assert "setWebhook" in output and "secret_token" in output  # DEBUG showed the call...
    assert_hidden(output, used, TOKEN, TOKEN.split(":")[1], *FRAGMENTS)  # ...not its secrets


async def test_refused_webhook_is_one_line_exit_2(
    tg: FakeTelegram, db_url: str, tmp_path: Path
) -> None:
    """Telegram refuses a secret with spaces: start-up ends with one line that names the
    settings, not the secret itself."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    env.update(
        BOT_TOKEN=TOKEN, DATABASE_URL=db_url, TELEGRAM_API_URL=tg.base_url,
        TELEGRAM_FILE_URL=tg.file_url, LOG_LEVEL="WARNING",
        WEBHOOK_URL=f"http://127.0.0.1:{port}/hook", WEBHOOK_PORT=str(port),
        WEBHOOK_SECRET="not allowed secret", PYTHONPATH=str(Path(__file__).parent.parent),
    )  # fmt: skip
    bot = BotProcess(env, tmp_path)
    await bot.start()
    code = await bot.stop(signal.SIGCONT)  # a harmless signal: it ends by itself
    output = bot.stderr.decode(errors="replace")
    assert code == 2, output
    lines = output.strip().splitlines()
    assert lines[-1] == (
        "partnerbot: WEBHOOK_URL/WEBHOOK_SECRET: Telegram refused the webhook: "
        "Secret token contains unallowed characters"
    ), output
    assert "Traceback" not in output and "not allowed secret" not in output
    assert tg.webhook_info.get("url") == ""
