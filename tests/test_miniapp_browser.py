"""The Mini App in a real browser: Debian's chromium, headless, driven by Selenium through
Debian's chromium-driver, against the real `partnerbot run` process and the fake Bot API.

Each test asserts what the user sees on the page and what was stored or what the fake
Telegram received. One browser, one bot process and one seeded database serve the whole
module, so the browser tests stay short; they run on SQLite only (the API's own tests,
tests/test_miniapp_api.py, cover PostgreSQL). Selenium blocks, so every browser step runs
in a thread (`ui`): the fake Bot API lives on this test's event loop and must keep
answering the bot meanwhile.

Screenshots of every screen go to $PARTNERBOT_ARTIFACTS (default tests/artifacts/);
PARTNERBOT_UPDATE_DOCS=1 also copies the README's four to docs/miniapp-*.png.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalog.demo import load_demo
from bot.catalog.search import search_text_for
from bot.ui.i18n import catalog
from bot.web.initdata import sign
from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import (
    AuditEntry,
    Department,
    EnterpriseProfile,
    Inquiry,
    InquiryEvent,
    InquiryKind,
    InquiryStatus,
    NextStep,
    Program,
    ProgramKind,
    ProgramStatus,
    Role,
    User,
    utcnow,
)
from tests.constants import ADMIN_ID, TOKEN
from tests.databases import sqlite_url
from tests.fakebot import FakeTelegram
from tests.seed import seed_catalog, special_id
from tests.test_e2e_process import free_port
from tests.test_reminder_durability import Proc, bot_env

ROOT = Path(__file__).parent.parent
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=420,800", "--lang=en-US",
)  # fmt: skip
ARTIFACTS = Path(os.environ.get("PARTNERBOT_ARTIFACTS") or ROOT / "tests" / "artifacts")
README_SHOTS = ("board-en", "board-zh", "catalog-en", "catalog-zh")
WEBAPP_URL = "https://miniapp.example/app"
STAFF_CHAT = -1009001
ZONE = ZoneInfo("Asia/Shanghai")
WAIT = 10.0  # seconds for the page to show something
REDRAWN = (StaleElementReferenceException,)  # replaced by the page while we looked: again
POLL = 0.05  # how often to look meanwhile (Selenium's default, 0.5 s, would be most of the time)

TEACHER_ZH = 5201  # 王芳, Chinese; her scope: inquiries assigned to her
ADMIN_ZH = 5202  # 刘洋, a Chinese admin (charts are for admins)
CONTACT_EN = 5101  # Ada of Acme Robotics (profile on file)
CONTACT_ZH = 5102  # 李雷 of 天津智造有限公司 (profile on file)
NEWCOMER = 5103  # Bob, no profile yet: registers interest from the page
DARK = {
    "bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499",
    "link_color": "#6ab3f3", "button_color": "#5288c1", "button_text_color": "#ffffff",
    "secondary_bg_color": "#232e3c",
}  # fmt: skip
LIGHT = {**DARK, "bg_color": "#ffffff", "text_color": "#000000", "secondary_bg_color": "#efeff3"}

T = TypeVar("T")
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]


async def ui(step: Callable[..., T], *args: Any) -> T:
    """A blocking browser step, off the event loop the fake Bot API answers on."""
    return await asyncio.to_thread(step, *args)


def need_browser() -> None:
    if shutil.which("chromium") and CHROMEDRIVER.exists():
        return
    if os.environ.get("PARTNERBOT_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium or chromium-driver missing, and the suite requires them")
    pytest.skip("no chromium/chromium-driver (Debian packages): the browser tests are skipped")


# --- the bot process, its database and the browser ----------------------------------------


@dataclass
class Site:
    port: int
    sessions: async_sessionmaker[AsyncSession]
    tg: FakeTelegram
    ids: dict[str, int]
    incubation: list[int]  # the open incubation programmes' ids

    def page(self, user_id: int, *, theme: dict[str, str] | None = None,
             signed_at: datetime | None = None, forge: bool = False) -> str:  # fmt: skip
        """The URL Telegram would open for this user: initData and theme in the fragment."""
        data = self.init_data(user_id, signed_at=signed_at, forge=forge)
        fragment = {"tgWebAppData": data, "tgWebAppVersion": "8.0", "tgWebAppPlatform": "tdesktop"}
        if theme is not None:
            fragment["tgWebAppThemeParams"] = json.dumps(theme)
        return f"http://127.0.0.1:{self.port}/#{urlencode(fragment)}"

    def init_data(self, user_id: int, *, signed_at: datetime | None = None,
                  forge: bool = False) -> str:  # fmt: skip
        user = self.tg.user(user_id)
        fields = {"id": user_id, "first_name": user.first_name,
                  "language_code": user.language_code}  # fmt: skip
        raw = sign(
            TOKEN, fields, signed_at or datetime.now(UTC), query_id="AAHdF6IQAAAAAN0XohDhrOrc"
        )
        if forge:  # one character of the hash changed
            last = raw[-1]
            raw = raw[:-1] + ("0" if last != "0" else "1")
        return raw

    async def api(self, user_id: int, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"tma {self.init_data(user_id, **kwargs)}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as client:
            return await client.get(path, headers=headers)


async def seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[dict[str, int], list[int]]:
    """The demo catalogue (first, so the first page shows it), the tests' programmes, staff
    (admins in both languages, a Chinese teacher), three contacts, three inquiries."""
    async with sessions() as session, session.begin():
        await load_demo(session)
    await seed_catalog(sessions, count=4)
    async with sessions() as session, session.begin():
        home = await session.scalar(select(Department).where(Department.code == "ME"))
        assert home is not None
        port = Program(code="PORT-1", kind=ProgramKind.JOINT_RESEARCH, department_id=home.id,
                       status=ProgramStatus.OPEN, title_zh="海河智慧港口联合研究",
                       title_en="Haihe smart port research", summary_zh="港口调度算法。",
                       summary_en="Port scheduling algorithms.")  # fmt: skip
        port.search_text = search_text_for(port, home)
        session.add(port)
    lab, first = await special_id(sessions, "LAB-AI"), await special_id(sessions, "JR-00001")
    platform = await special_id(sessions, "INC-1")
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add_all([
            User(id=ADMIN_ID, first_name="周明", language="en", language_chosen=True,
                 role=Role.ADMIN),
            User(id=TEACHER_ZH, first_name="王芳", language="zh", language_chosen=True,
                 role=Role.TEACHER),
            User(id=ADMIN_ZH, first_name="刘洋", language="zh", language_chosen=True,
                 role=Role.ADMIN),
            User(id=CONTACT_EN, first_name="Ada", language="en", language_chosen=True),
            User(id=CONTACT_ZH, first_name="李雷", language="zh", language_chosen=True),
            User(id=NEWCOMER, first_name="Bob", language="en", language_chosen=True),
        ])  # fmt: skip
        await session.flush()
        session.add_all([
            EnterpriseProfile(user_id=CONTACT_EN, organization="Acme Robotics",
                              contact_person="Ada Lovelace", phone="022-1234 5678",
                              email="ada@acme.example", consent_at=now),
            EnterpriseProfile(user_id=CONTACT_ZH, organization="天津智造有限公司",
                              contact_person="李雷", phone="13800000000",
                              email="li@example.cn", consent_at=now),
        ])  # fmt: skip
        # Already escalated: the first-response reminders leave them be.
        moving = Inquiry(user_id=CONTACT_EN, program_id=first, kind=InquiryKind.INTEREST,
                         message="We would like to join.", organization="Acme Robotics",
                         created_at=now - timedelta(days=2), escalation=2)  # fmt: skip
        hers = Inquiry(user_id=CONTACT_ZH, program_id=lab, kind=InquiryKind.INTEREST,
                       message="希望共建实验室。", organization="天津智造有限公司",
                       assignee_id=TEACHER_ZH, created_at=now - timedelta(days=5),
                       escalation=2)  # fmt: skip
        others = Inquiry(user_id=CONTACT_ZH, program_id=platform, kind=InquiryKind.INTEREST,
                         message="想了解孵化政策。", organization="天开科技有限公司",
                         status=InquiryStatus.CONTACTED, created_at=now - timedelta(days=9),
                         first_response_at=now - timedelta(days=8), escalation=2)  # fmt: skip
        session.add_all([moving, hers, others])
        await session.flush()
        for inquiry in (moving, hers, others):
            session.add(InquiryEvent(inquiry_id=inquiry.id, actor_id=inquiry.user_id,
                                     kind="created", created_at=inquiry.created_at))  # fmt: skip
        session.add(NextStep(inquiry_id=hers.id, title="电话沟通合作细节", owner_id=TEACHER_ZH,
                             due_at=now - timedelta(days=1), created_by=TEACHER_ZH))  # fmt: skip
        open_ = await session.scalar(
            select(func.count()).where(Program.status == ProgramStatus.OPEN)
        )  # fmt: skip
        incubation = await session.scalars(
            select(Program.id).where(Program.status == ProgramStatus.OPEN,
                                     Program.kind == ProgramKind.INCUBATION)
        )  # fmt: skip
    ids = {"moving": moving.id, "hers": hers.id, "others": others.id, "lab": lab,
           "open": open_ or 0, "port": port.id,
           "joint": await special_id(sessions, "JR-00002")}  # fmt: skip
    return ids, list(incubation)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    need_browser()
    folder = tmp_path_factory.mktemp("miniapp")
    url = sqlite_url(folder)
    engine = create_engine(url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    ids, incubation = await seed(sessions)
    port = free_port()
    async with FakeTelegram(token=TOKEN) as tg:
        tg.group(STAFF_CHAT, title="Cooperation office")
        tg.user(ADMIN_ID, first_name="周明", language_code="en")
        tg.user(TEACHER_ZH, first_name="王芳", language_code="zh-hans")
        tg.user(ADMIN_ZH, first_name="刘洋", language_code="zh-hans")
        tg.user(CONTACT_EN, first_name="Ada", language_code="en")
        tg.user(CONTACT_ZH, first_name="李雷", language_code="zh-hans")
        tg.user(NEWCOMER, first_name="Bob", language_code="en")
        env = bot_env(
            tg, url, WEBAPP_URL=WEBAPP_URL, WEBAPP_LISTEN="127.0.0.1", WEBAPP_PORT=str(port),
            STAFF_CHAT_ID=str(STAFF_CHAT), FLOOD_BURST="1000", ADMIN_IDS=f"{ADMIN_ID},{ADMIN_ZH}",
        )  # fmt: skip
        proc = Proc("run", env, folder / "bot.log")
        await proc.start()
        try:
            await _until_serving(port, proc)
            yield Site(port, sessions, tg, ids, incubation)
        finally:
            await proc.stop()
            await engine.dispose()
            log = proc.tail(200_000)
            assert TOKEN not in log and TOKEN.split(":")[1] not in log


async def _until_serving(port: int, proc: Proc) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert proc.proc is not None
            if proc.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"the Mini App did not come up:\n{proc.tail()}")
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    need_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, on failure
    profile = tempfile.mkdtemp(prefix="partnerbot-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_window_size(420, 800)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
    if os.environ.get("PARTNERBOT_UPDATE_DOCS") == "1":
        for name in README_SHOTS:
            shutil.copyfile(ARTIFACTS / f"{name}.png", ROOT / "docs" / f"miniapp-{name}.png")


# --- browser steps (blocking; run through ui()) -------------------------------------------


def open_page(browser: WebDriver, url: str, ready: str) -> WebElement:
    """Load the page afresh (a new fragment alone would not reload it) and wait for
    `ready`, a CSS selector."""
    browser.get("about:blank")
    browser.get(url)
    return wait_for(browser, ready)


def wait_for(browser: WebDriver, css: str, text: str | None = None) -> WebElement:
    def found(_: Any) -> WebElement | bool:
        for element in browser.find_elements(By.CSS_SELECTOR, css):
            if element.is_displayed() and (text is None or text in element.text):
                return element
        return False

    try:
        element = WebDriverWait(browser, WAIT, POLL, REDRAWN).until(found)
    except TimeoutException:
        body = browser.find_element(By.TAG_NAME, "body").text
        logs = browser.get_log("browser")  # type: ignore[no-untyped-call]
        console = "\n".join(str(entry["message"]) for entry in logs)
        raise AssertionError(
            f"no {css} {text or ''} on the page; it shows:\n{body}\nconsole:\n{console}"
        ) from None
    assert isinstance(element, WebElement)
    return element


def shot(browser: WebDriver, name: str) -> None:
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def by_id(browser: WebDriver, testid: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def page_text(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def background(browser: WebDriver) -> str:
    return str(browser.execute_script("return getComputedStyle(document.body).backgroundColor"))


LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


# --- the tests -----------------------------------------------------------------------------


async def test_admin_moves_an_inquiry_and_the_contact_is_told(
    site: Site, driver: WebDriver
) -> None:
    moving = site.ids["moving"]

    def move() -> tuple[str, str]:
        open_page(
            driver,
            site.page(ADMIN_ID, theme=LIGHT),
            f'[data-testid="column-new"] [data-testid="card-{moving}"]',
        )
        board = page_text(driver)
        shot(driver, "board-en")
        by_id(driver, f"card-{moving}").click()
        wait_for(driver, '[data-testid="detail-title"]', f"#{moving}")
        shot(driver, "detail-en")
        Select(by_id(driver, "status-select")).select_by_value("contacted")
        by_id(driver, "move").click()
        notice = wait_for(driver, '[data-testid="notice"]').text
        wait_for(driver, '[data-testid="facts"]', "contacted")
        by_id(driver, "back").click()
        wait_for(driver, f'[data-testid="column-contacted"] [data-testid="card-{moving}"]')
        return board, notice

    board, notice = await ui(move)
    assert "Acme Robotics" in board and "Board" in board and "Charts" in board
    assert notice  # the server's confirmation, as the chat would say it

    told = await site.tg.wait_for(
        lambda: [m for m in site.tg.chat(CONTACT_EN) if f"#{moving}" in (m.text or "")],
        15, "the status message to the contact",
    )  # fmt: skip
    assert "contacted" in told[-1].text and "Joint project 00001" in told[-1].text
    async with site.sessions() as session:
        inquiry = await session.get(Inquiry, moving)
        audit = list(await session.scalars(
            select(AuditEntry).where(AuditEntry.subject == f"inquiry:{moving}")
        ))  # fmt: skip
    assert inquiry is not None and inquiry.status is InquiryStatus.CONTACTED
    assert [(a.action, a.actor_id) for a in audit] == [("inquiry.status", ADMIN_ID)]


async def test_admin_adds_a_next_step_with_the_date_picker(site: Site, driver: WebDriver) -> None:
    moving = site.ids["moving"]
    tomorrow = (datetime.now(ZONE) + timedelta(days=1)).replace(hour=10, minute=0, second=0,
                                                                microsecond=0)  # fmt: skip

    def add() -> str:
        open_page(driver, site.page(ADMIN_ID), f'[data-testid="card-{moving}"]')
        by_id(driver, f"card-{moving}").click()
        wait_for(driver, '[data-testid="step-title"]')
        by_id(driver, "step-title").send_keys("Call Ada about the contract")
        # What <input type="datetime-local"> gives once a date and time are picked.
        driver.execute_script("arguments[0].value = arguments[1]", by_id(driver, "step-due"),
                              tomorrow.strftime("%Y-%m-%dT%H:%M"))  # fmt: skip
        by_id(driver, "step-add").click()
        wait_for(driver, '[data-testid="steps"]', "Call Ada about the contract")
        return str(wait_for(driver, '[data-testid="notice"]', "10:00").text)

    notice = await ui(add)
    assert "10:00" in notice  # the server's echo of the saved time
    async with site.sessions() as session:
        step = await session.scalar(select(NextStep).where(NextStep.inquiry_id == moving))
    assert step is not None and step.title == "Call Ada about the contract"
    assert step.due_at == tomorrow.astimezone(UTC) and step.owner_id == ADMIN_ID


async def test_charts_and_export(site: Site, driver: WebDriver) -> None:
    before = len(site.tg.calls_to("sendDocument"))

    def charts() -> tuple[list[int], int, str]:
        open_page(driver, site.page(ADMIN_ID), '[data-testid="board"]')
        by_id(driver, "tab-charts").click()
        funnel = wait_for(driver, '[data-testid="funnel"]')
        counts = [int(str(bar.get_attribute("data-count")))
                  for bar in funnel.find_elements(By.CSS_SELECTOR, "rect")]  # fmt: skip
        weeks = len(by_id(driver, "weeks").find_elements(By.CSS_SELECTOR, "rect"))
        shot(driver, "charts-en")
        by_id(driver, "export-csv").click()
        return counts, weeks, str(wait_for(driver, '[data-testid="export-result"]').text)

    counts, weeks, said = await ui(charts)
    stats = (await site.api(ADMIN_ID, "/api/stats")).json()
    assert counts == [stage["count"] for stage in stats["funnel"]]  # one bar per number
    assert weeks == len(stats["weeks"]) == 12 and counts[0] >= 3
    assert said
    await site.tg.wait_for(lambda: len(site.tg.calls_to("sendDocument")) > before, 15, "export")
    assert site.tg.calls_to("sendDocument")[-1].params["chat_id"] in (ADMIN_ID, str(ADMIN_ID))


REPLY = "我们周一<b>给您</b>打电话。"  # what staff type is text, not HTML, on both faces


async def test_admin_filters_assigns_and_replies(site: Site, driver: WebDriver) -> None:
    hers, others = site.ids["hers"], site.ids["others"]

    def cards_become(wanted: list[int]) -> None:
        def shown(_: Any) -> list[int] | bool:
            ids = [int(str(e.get_attribute("data-id")))
                   for e in driver.find_elements(By.CSS_SELECTOR, ".card")]  # fmt: skip
            return ids if sorted(ids) == sorted(wanted) else False

        try:
            WebDriverWait(driver, WAIT, POLL, REDRAWN).until(shown)
        except TimeoutException:
            raise AssertionError(
                f"the board did not come to {wanted}:\n{page_text(driver)}"
            ) from None

    def work() -> str:
        open_page(driver, site.page(ADMIN_ID), f'[data-testid="card-{others}"]')
        by_id(driver, "board-search").send_keys("天开")  # a Chinese substring
        cards_become([others])
        open_page(driver, site.page(ADMIN_ID), f'[data-testid="card-{others}"]')
        by_id(driver, "filter-overdue").click()
        cards_become([hers])
        by_id(driver, f"card-{hers}").click()
        wait_for(driver, '[data-testid="detail-title"]', f"#{hers}")
        by_id(driver, "back").click()
        by_id(driver, "filter-overdue").click()
        wait_for(driver, f'[data-testid="card-{others}"]').click()
        wait_for(driver, '[data-testid="detail-title"]', f"#{others}")
        Select(by_id(driver, "assign-select")).select_by_value(str(ADMIN_ZH))
        by_id(driver, "assign").click()
        wait_for(driver, '[data-testid="facts"]', "刘洋")
        by_id(driver, "reply-text").send_keys(REPLY)
        by_id(driver, "reply-send").click()
        wait_for(driver, '[data-testid="timeline"]', REPLY)  # as typed, tags and all
        return str(by_id(driver, "notice").text)

    said = await ui(work)
    assert said
    told = await site.tg.wait_for(
        lambda: [m for m in site.tg.chat(CONTACT_ZH) if REPLY in (m.text or "")],
        15, "the reply to the contact",
    )  # fmt: skip
    assert told
    async with site.sessions() as session:
        inquiry = await session.get(Inquiry, others)
        actions = list(await session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject == f"inquiry:{others}")
        ))  # fmt: skip
    assert inquiry is not None and inquiry.assignee_id == ADMIN_ZH
    assert sorted(actions) == ["inquiry.assign", "inquiry.reply"]


async def test_contact_registers_interest_with_profile_and_consent(
    site: Site, driver: WebDriver
) -> None:
    joint = site.ids["joint"]

    def register() -> tuple[str, str, str, str]:
        open_page(driver, site.page(NEWCOMER), f'[data-testid="program-{joint}"]')
        shot(driver, "catalog-en")
        catalogue = page_text(driver)
        by_id(driver, f"program-{joint}").click()
        wait_for(driver, '[data-testid="program-title"]', "Joint project 00002")
        shot(driver, "card-en")
        by_id(driver, "interest").click()
        wait_for(driver, '[data-testid="consent-text"]')
        for name, value in [("organization", "Bobcat Tooling"), ("contact_person", "Bob Stone"),
                            ("phone", "+86 22 5555 0000"), ("email", "bob@bobcat"),
                            ("industry", "Machine tools")]:  # fmt: skip
            by_id(driver, f"field-{name}").send_keys(value)
        by_id(driver, "interest-message").send_keys("Two interns next summer?")
        shot(driver, "interest-en")
        by_id(driver, "interest-send").click()  # without consent: refused under the box
        refused = wait_for(driver, '[data-testid="error-consent"]').text
        by_id(driver, "consent").click()
        by_id(driver, "interest-send").click()  # the e-mail has no domain: under its field
        bad_email = wait_for(driver, '[data-testid="error-email"]').text
        assert not by_id(driver, "error-consent").text  # the earlier refusal went
        shot(driver, "interest-error-en")
        by_id(driver, "field-email").send_keys(".example")
        by_id(driver, "interest-send").click()
        done = wait_for(driver, '[data-testid="interest-done"]').text
        shot(driver, "interest-done-en")
        return catalogue, refused, bad_email, done

    catalogue, refused, bad_email, done = await ui(register)
    assert "Joint project 00002" in catalogue and "Board" not in catalogue
    assert refused and bad_email and done
    async with site.sessions() as session:
        inquiry = await session.scalar(select(Inquiry).where(Inquiry.user_id == NEWCOMER))
        profile = await session.get(EnterpriseProfile, NEWCOMER)
    assert inquiry is not None and inquiry.program_id == joint
    assert inquiry.message == "Two interns next summer?"
    assert profile is not None and profile.organization == "Bobcat Tooling"
    assert profile.email == "bob@bobcat.example"
    card = await site.tg.wait_for(
        lambda: [m for m in site.tg.chat(STAFF_CHAT) if "Bobcat Tooling" in (m.text or "")],
        15, "the staff card",
    )  # fmt: skip
    assert f"#{inquiry.id}" in card[0].text
    chat = await site.tg.wait_for(lambda: site.tg.chat(NEWCOMER), 15, "the confirmation")
    assert any(done.split("。")[0].split(".")[0][:20] in (m.text or "") for m in chat)


async def test_chinese_contact_sees_chinese_only(site: Site, driver: WebDriver) -> None:
    lab = site.ids["lab"]

    def programs() -> list[str]:
        return [str(e.get_attribute("data-testid"))
                for e in driver.find_elements(By.CSS_SELECTOR, ".program")]  # fmt: skip

    def browse() -> tuple[str, str, list[str], list[str], list[str], str]:
        open_page(driver, site.page(CONTACT_ZH), '[data-testid="page-of"]')
        wait_for(driver, '[data-testid="page-of"]', "第 1 页，共 2 页")
        shot(driver, "catalog-zh")
        catalogue = page_text(driver)
        by_id(driver, "page-next").click()
        wait_for(driver, '[data-testid="page-of"]', "第 2 页，共 2 页")
        second = programs()
        Select(by_id(driver, "catalog-kind")).select_by_value("incubation")
        wait_for(driver, '[data-testid="catalog-total"]', f"共 {len(site.incubation)} 个项目")
        incubation = programs()
        Select(by_id(driver, "catalog-kind")).select_by_value("")
        wait_for(driver, '[data-testid="catalog-total"]', f"共 {site.ids['open']} 个项目")
        by_id(driver, "catalog-search").send_keys("智慧港")  # a Chinese substring
        wait_for(driver, '[data-testid="catalog-total"]', "共 1 个项目")
        found = programs()
        by_id(driver, "catalog-search").clear()
        by_id(driver, "catalog-search").send_keys("智能制造联合实验")
        wait_for(driver, f'[data-testid="program-{lab}"]')
        wait_for(driver, f'[data-testid="program-{lab}"]').click()
        wait_for(driver, '[data-testid="program-title"]', "智能制造联合实验室")
        shot(driver, "card-zh")
        wait_for(driver, '[data-testid="already-interested"]')
        card = page_text(driver)
        by_id(driver, "back").click()  # to the list as it was left, filters and all
        wait_for(driver, '[data-testid="catalog-search"]').clear()
        by_id(driver, "catalog-search").send_keys("智慧港")
        wait_for(driver, f'[data-testid="program-{site.ids["port"]}"]').click()
        wait_for(driver, '[data-testid="interest"]').click()
        known = wait_for(driver, '[data-testid="profile-known"]').text
        shot(driver, "interest-zh")
        return catalogue, card, found, second, incubation, known

    catalogue, card, found, second, incubation, known = await ui(browse)
    assert "天津智造有限公司" in known and "李雷" in known  # the profile on file: no form
    assert f"共 {site.ids['open']} 个项目" in catalogue and "信息与智能工程学院" in catalogue
    # Latin letters only where the programmes' own Chinese texts have them ("PLC").
    data = (await site.api(CONTACT_ZH, "/api/catalog")).text
    assert set(LATIN_WORD.findall(catalogue)) <= set(LATIN_WORD.findall(data)), catalogue
    assert "(" not in catalogue  # full-width brackets on a Chinese page
    assert len(second) == site.ids["open"] - 20 > 0  # twenty a page
    assert incubation == [f"program-{n}" for n in site.incubation]
    assert found == [f"program-{site.ids['port']}"]
    assert "您已表达过合作意向" in card  # 李雷 has an open inquiry about it
    assert "合作收益\n共享设备与学生资源" in card and "机器人" in card
    assert "Tel 022-0000 <ext 1>" in card  # shown as text, never read as HTML


async def test_chinese_teacher_sees_her_scope_only(site: Site, driver: WebDriver) -> None:
    hers, others = site.ids["hers"], site.ids["others"]

    def board() -> tuple[str, list[str], list[str], str]:
        open_page(driver, site.page(TEACHER_ZH), f'[data-testid="card-{hers}"]')
        shot(driver, "board-zh-teacher")
        text = page_text(driver)
        cards = [str(e.get_attribute("data-testid"))
                 for e in driver.find_elements(By.CSS_SELECTOR, ".card")]  # fmt: skip
        tabs = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "nav.tabs button")]
        by_id(driver, f"card-{hers}").click()
        wait_for(driver, '[data-testid="timeline"]')
        shot(driver, "detail-zh")
        return text, cards, tabs, page_text(driver)

    text, cards, tabs, detail = await ui(board)
    assert cards == [f"card-{hers}"]  # 天开科技's inquiry is not hers
    assert tabs == ["咨询看板", "项目目录"]  # charts cover every inquiry: admins only
    assert "天津智造有限公司" in text and "已逾期" in text
    assert not LATIN_WORD.findall(text), text
    assert "电话沟通合作细节" in detail and "li@example.cn" in detail
    assert not LATIN_WORD.findall(detail.replace("li@example.cn", "")), detail  # but data
    refused = await site.api(TEACHER_ZH, f"/api/inquiries/{others}")
    assert refused.status_code == 403 and "error" in refused.json()
    assert (await site.api(TEACHER_ZH, f"/api/inquiries/{hers}")).status_code == 200


async def test_chinese_admin_board_and_charts(site: Site, driver: WebDriver) -> None:
    def look() -> tuple[str, str, list[str]]:
        open_page(driver, site.page(ADMIN_ZH), f'[data-testid="card-{site.ids["others"]}"]')
        shot(driver, "board-zh")
        words = " ".join(
            e.text for e in driver.find_elements(By.CSS_SELECTOR, "h1, nav.tabs, form.filters")
        )
        by_id(driver, "tab-charts").click()
        funnel = wait_for(driver, '[data-testid="funnel"]')
        labels = [e.text for e in funnel.find_elements(By.CSS_SELECTOR, "text")]
        shot(driver, "charts-zh")
        return words, page_text(driver), labels

    words, charts, labels = await ui(look)
    assert "咨询看板" in words and "统计图表" in words and "全部院系" in words
    assert not LATIN_WORD.findall(words), words
    assert not LATIN_WORD.findall(charts), charts
    stats = (await site.api(ADMIN_ZH, "/api/stats")).json()
    assert labels[::2] == [stage["label"] for stage in stats["funnel"]]  # label, count, …
    assert labels[0] == "已收到"


@pytest.mark.parametrize("how", ["forged", "stale"])
async def test_bad_init_data_shows_only_the_reopen_sentence(
    site: Site, driver: WebDriver, how: str
) -> None:
    kwargs: dict[str, Any] = (
        {"forge": True} if how == "forged" else {"signed_at": datetime.now(UTC) - timedelta(days=2)}
    )
    answer = await site.api(CONTACT_ZH, "/api/me", **kwargs)
    assert answer.status_code == 401 and answer.json() == {"error": "unauthorized"}

    def load() -> tuple[str, int]:
        open_page(driver, site.page(CONTACT_ZH, **kwargs), '[data-testid="reopen"]')
        shot(driver, f"reopen-{how}-zh")
        shown = len(driver.find_elements(By.CSS_SELECTOR, "#app *"))
        return page_text(driver), shown

    text, elements = await ui(load)
    assert text == catalog("zh")["web.reopen"] and elements == 1


async def test_theme_colours(site: Site, driver: WebDriver) -> None:
    def colours() -> tuple[str, str, str, str]:
        open_page(driver, site.page(ADMIN_ID, theme=DARK), '[data-testid="board"]')
        dark = background(driver)
        shot(driver, "board-en-dark")
        open_page(driver, site.page(CONTACT_ZH, theme=DARK), '[data-testid="programs"]')
        shot(driver, "catalog-zh-dark")
        open_page(driver, site.page(ADMIN_ID, theme=LIGHT), '[data-testid="board"]')
        light = background(driver)
        # No theme from Telegram: the reader's own preference.
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": "dark"}]})  # fmt: skip
        try:
            open_page(driver, site.page(ADMIN_ID), '[data-testid="board"]')
            preferred_dark = background(driver)
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        open_page(driver, site.page(ADMIN_ID), '[data-testid="board"]')
        return dark, light, preferred_dark, background(driver)

    dark, light, preferred_dark, plain = await ui(colours)
    assert dark == "rgb(23, 33, 43)" and light == "rgb(255, 255, 255)"
    assert preferred_dark == "rgb(23, 33, 43)" and plain == "rgb(255, 255, 255)"


async def test_the_page_tells_telegram_it_is_ready(site: Site, driver: WebDriver) -> None:
    """Without telegram-web-app.js the page itself posts what the Telegram client waits
    for, on the channel the mobile clients give it."""
    proxy = (
        "window.TelegramWebviewProxy = "
        "{postEvent: (type, data) => (window.told ||= []).push([type, data])};"
    )

    def told() -> list[list[str]]:
        script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": proxy})
        try:
            open_page(driver, site.page(CONTACT_EN), '[data-testid="programs"]')
            return list(driver.execute_script("return window.told"))
        finally:
            driver.execute_cdp_cmd(
                "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
            )

    assert await ui(told) == [["web_app_ready", "{}"], ["web_app_expand", "{}"]]
