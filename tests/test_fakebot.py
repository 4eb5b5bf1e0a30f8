"""The fake Bot API server, proven against the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update, WebAppInfo
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebot import FakeTelegram

TOKEN = "123456:FAKEBOT-test-token"


@pytest.fixture(autouse=True)
def _quiet_httpx() -> Iterator[None]:
    """httpx logs request URLs, which carry the token; this module's bots don't redact."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    yield
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


def seconds(value: object) -> float:
    """RetryAfter.retry_after is an int, or a timedelta when PTB_TIMEDELTA is set."""
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)  # type: ignore[arg-type]


def make_bot(tg: FakeTelegram) -> Bot:
    return Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.file_url)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Shout it", callback_data="shout")]])
    await update.effective_message.reply_text(
        f"<b>echo</b>: {html.escape(update.effective_message.text or '')}",
        parse_mode="HTML",
        reply_markup=markup,
    )


async def shout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer("shouting!", show_alert=True)
    await query.edit_message_text(str(getattr(query.message, "text", "")).upper())


@pytest.fixture
async def echo_app(fake: FakeTelegram) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    app = ApplicationBuilder().token(TOKEN).base_url(fake.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(shout))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.mark.asyncio
async def test_polling_echo_and_button(fake: FakeTelegram, echo_app: Application) -> None:  # type: ignore[type-arg]
    alice = fake.user(1001, first_name="Alice", username="alice")
    reply = await alice.send_and_wait("hello <world>")
    assert reply.text == "echo: hello <world>"
    assert reply.raw_text == "<b>echo</b>: hello &lt;world&gt;"
    assert reply.button_labels() == ["Shout it"]
    assert reply.buttons() == [("Shout it", "shout")]

    query_id = await alice.press("Shout")  # unique substring
    answer = await alice.expect_callback_answer()
    assert answer["text"] == "shouting!" and answer["show_alert"] is True
    assert answer["callback_query_id"] == query_id
    edited = await alice.expect_message()
    assert edited.message_id == reply.message_id and edited.text == "ECHO: HELLO <WORLD>"
    assert edited.reply_markup == []  # editing without reply_markup drops the keyboard
    assert fake.chat(1001)[0].edits == 1

    await alice.send_and_wait("second")
    # offsets confirmed everything: nothing left, and nothing was delivered twice
    await fake.wait_for(lambda: fake.pending_updates() == 0, 5)
    assert [m.text for m in fake.chat(1001)] == ["ECHO: HELLO <WORLD>", "echo: second"]
    assert sum(fake.sends_per_second().values()) == 3


@pytest.mark.asyncio
async def test_get_updates_offsets_limit_and_timeout(fake: FakeTelegram) -> None:
    bob = fake.user(1002, first_name="Bob")
    async with make_bot(fake) as bot:
        me = await bot.get_me()
        assert me.username == "partnerbot_test_bot" and me.is_bot
        assert await bot.get_updates(timeout=0) == ()
        for i in range(3):
            await bob.send(f"/cmd{i}@partnerbot_test_bot arg")
        first = await bot.get_updates(limit=2, timeout=0)
        assert [u.message.text for u in first if u.message] == [
            "/cmd0@partnerbot_test_bot arg",
            "/cmd1@partnerbot_test_bot arg",
        ]
        assert first[0].message is not None
        assert first[0].message.entities[0].type == "bot_command"
        assert first[0].message.entities[0].length == len("/cmd0@partnerbot_test_bot")
        again = await bot.get_updates(timeout=0)  # not confirmed yet: redelivered
        assert len(again) == 3
        rest = await bot.get_updates(offset=first[1].update_id + 1, timeout=0)
        assert [u.update_id for u in rest] == [first[1].update_id + 1]
        assert fake.pending_updates() == 1

        waiting = asyncio.create_task(bot.get_updates(offset=rest[0].update_id + 1, timeout=5))
        await fake.wait_for(lambda: fake.pending_updates() == 0, 5)
        assert not waiting.done()  # long poll is holding the request
        await bob.send("late")
        late = await asyncio.wait_for(waiting, 5)
        assert late[0].message is not None and late[0].message.text == "late"

        await bob.send("ignored kind")
        assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == ()


@pytest.mark.asyncio
async def test_errors_are_telegram_shaped(fake: FakeTelegram) -> None:
    fake.user(1003, first_name="Carol")
    async with make_bot(fake) as bot:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(999, "hi")
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(1003, "")
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(1003, "x" * 4097)
        await bot.send_message(1003, "x" * 4096)
        for bad in ("<b>open", "<b>x</i>", "a < b", "fish & chips", "<script>x</script>", "</b>"):
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(1003, bad, parse_mode="HTML")
        ok = '<a href="https://x.org">a</a> <tg-spoiler>s</tg-spoiler> &amp; &#128512; <pre>1</pre>'
        assert (await bot.send_message(1003, ok, parse_mode="HTML")).text == "a s & 😀 1"
        long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(1003, "hi", reply_markup=long_data)

        # A Mini App button: https only, and in private chats only.
        def app_button(url: str) -> InlineKeyboardMarkup:
            return InlineKeyboardMarkup([[InlineKeyboardButton("app", web_app=WebAppInfo(url))]])

        await bot.send_message(1003, "app", reply_markup=app_button("https://a.example/app"))
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_URL_INVALID"):
            await bot.send_message(1003, "app", reply_markup=app_button("http://a.example/app"))
        fake.group(-1003, title="Group")
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_TYPE_INVALID"):
            await bot.send_message(-1003, "app", reply_markup=app_button("https://a.example/app"))

        sent = await bot.send_message(1003, "same")
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("same", chat_id=1003, message_id=sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("new", chat_id=1003, message_id=9999)
        assert await bot.delete_message(1003, sent.message_id)
        assert fake.chat(1003)[-1].deleted

        fake.block(1003)
        with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
            await bot.send_message(1003, "anyone there?")

    async with httpx.AsyncClient() as client:
        wrong = await client.post(f"{fake.base_url}123:wrong/getMe")
        assert wrong.status_code == 401 and wrong.json()["description"] == "Unauthorized"
        unknown = await client.post(f"{fake.base_url}{TOKEN}/fooBar", json={})
        assert unknown.status_code == 404 and unknown.json()["ok"] is False
        assert (await client.get(f"{fake.base_url}{TOKEN}/GETME")).json()["ok"] is True
    statuses = [c.status for c in fake.calls]
    assert 400 in statuses and 403 in statuses and 401 in statuses and 404 in statuses


@pytest.mark.asyncio
async def test_lengths_are_counted_as_telegram_counts_them(fake: FakeTelegram) -> None:
    """After entity parsing, in code points: 4,096 emoji pass and 4,097 fail (measured on
    Telegram by others), `&lt;` is one character, tags are none; a caption holds 1,024.
    Entity offsets and lengths, unlike the limit, are reported in UTF-16 units."""
    fake.user(1010)
    emoji = "\U0001f600"  # two UTF-16 units, one code point
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (8).to_bytes(4, "big") * 2
    async with make_bot(fake) as bot:
        assert (await bot.send_message(1010, emoji * 4096)).text == emoji * 4096
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(1010, emoji * 4097)
        escaped = await bot.send_message(1010, "&lt;" * 4096, parse_mode="HTML")
        assert escaped.text == "<" * 4096
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(1010, "&lt;" * 4097, parse_mode="HTML")
        tagged = "<b>" + "<i>x</i>" * 2048 + "</b>" + "&#128512;" * 2048
        shown = (await bot.send_message(1010, tagged, parse_mode="HTML")).text
        assert shown is not None and len(shown) == 4096
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(1010, tagged + "<b>.</b>", parse_mode="HTML")
        assert (await bot.send_photo(1010, png, caption="智" * 1024)).caption == "智" * 1024
        with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
            await bot.send_photo(1010, png, caption=emoji * 1025)
        with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
            await bot.send_document(1010, b"x", filename="x.txt", caption="a" * 1025)

        sent = await bot.send_message(
            1010, f'{emoji} <b>bold <i>&amp;</i></b> <a href="https://x.org/?a=1&amp;b=2">'
            f"{emoji}</a><b></b>", parse_mode="HTML",
        )  # fmt: skip
        assert sent.text == f"{emoji} bold & {emoji}"
        bold, italic, link = sent.entities
        assert (bold.type, bold.offset, bold.length) == ("bold", 3, 6)
        assert (italic.type, italic.offset, italic.length) == ("italic", 8, 1)
        assert (link.type, link.offset, link.length) == ("text_link", 10, 2)
        assert link.url == "https://x.org/?a=1&b=2"
        assert sent.parse_entity(bold) == "bold &" and sent.parse_entity(link) == emoji
        photo = await bot.send_photo(1010, png, caption="<u>智</u>", parse_mode="HTML")
        assert [(e.type, e.offset, e.length) for e in photo.caption_entities] == [
            ("underline", 0, 1)
        ]


@pytest.mark.asyncio
async def test_injected_429(fake: FakeTelegram) -> None:
    fake.user(1004)
    fake.inject_429(2, retry_after=3)
    async with make_bot(fake) as bot:
        for _ in range(2):
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(1004, "hi")
            assert seconds(caught.value.retry_after) == 3
        await bot.send_message(1004, "hi")
    assert fake.stats["429_injected"] == 2 and fake.stats["429"] == 0
    assert len(fake.chat(1004)) == 1


@pytest.mark.asyncio
async def test_rate_limits() -> None:
    async with FakeTelegram(token=TOKEN, rate_limit_global=3, rate_limit_per_chat=1) as fake:
        for uid in (1, 2, 3, 4):
            fake.user(uid)
        fake.group(-100123, title="Staff")
        async with make_bot(fake) as bot:
            await bot.send_message(1, "one")
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(1, "again")  # per chat: 1 per second
            assert seconds(caught.value.retry_after) == 1
            await bot.send_message(2, "two")
            await bot.send_message(3, "three")
            with pytest.raises(RetryAfter):
                await bot.send_message(4, "four")  # global: 3 per second
        assert fake.stats["429"] == 2
        assert [len(fake.chat(uid)) for uid in (1, 2, 3, 4)] == [1, 1, 1, 0]
        assert sum(fake.sends_per_second().values()) == 3


@pytest.mark.asyncio
async def test_documents_both_ways(fake: FakeTelegram) -> None:
    dora = fake.user(1005, first_name="Dora")
    content = "名称,kind\nLab,research\n".encode()
    async with make_bot(fake) as bot:
        sent = await bot.send_document(
            1005, content, filename="programmes 2025.csv", caption="<i>all</i>", parse_mode="HTML"
        )
        assert sent.document is not None and sent.document.file_name == "programmes 2025.csv"
        assert sent.caption == "all"
        stored = fake.chat(1005)[0]
        assert stored.document is not None and stored.document.content == content
        assert stored.document.filename == "programmes 2025.csv"
        received = await dora.expect_message()
        assert received.text == "all" and received.document is not None

        png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (300).to_bytes(4, "big") * 2
        photo = await bot.send_photo(1005, png)
        assert photo.photo[-1].width == 300 and fake.chat(1005)[1].photo == png
        again = await bot.send_document(1005, sent.document.file_id)  # resend by file_id
        assert again.document is not None and again.document.file_name == "programmes 2025.csv"

        await dora.send_document(filename="upload.csv", content=b"a,b\n1,2\n", mime_type="text/csv")
        updates = await bot.get_updates(timeout=0)
        doc = updates[-1].message.document if updates[-1].message else None
        assert doc is not None and doc.file_name == "upload.csv" and doc.mime_type == "text/csv"
        data = await (await bot.get_file(doc.file_id)).download_as_bytearray()
        assert bytes(data) == b"a,b\n1,2\n"
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")


@pytest.mark.asyncio
async def test_commands_webhook_and_other_inputs(fake: FakeTelegram) -> None:
    eve = fake.user(1006, first_name="Eve", language_code="zh-hans")
    async with make_bot(fake) as bot:
        await bot.set_my_commands([("start", "Start"), ("help", "Help")])
        await bot.set_my_commands([("start", "开始")], language_code="zh")
        assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
        assert fake.commands[("default", "zh")] == [{"command": "start", "description": "开始"}]
        await bot.set_my_description("About", language_code="en")
        await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret")
        info = await fake.wait_for_webhook(timeout=1)
        assert info["secret_token"] == "s3cret"
        assert (await bot.get_webhook_info()).url == "http://127.0.0.1:9/hook"
        await bot.delete_webhook()
        chat = await bot.get_chat(1006)
        assert chat.first_name == "Eve" and chat.type == "private"
        await bot.send_chat_action(1006, "typing")

        await eve.send_contact("+8613800000000")
        await eve.send_sticker()
        await eve.send("first")
        await eve.edit_last_text("first, edited")
        menu = await bot.send_message(1006, "menu", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("Go", callback_data="go")]]))  # fmt: skip
        await eve.reply_to(menu.message_id, "answering")
        await eve.press_data(menu.message_id, "forged:data")
        updates = await bot.get_updates(timeout=0)
        contact, sticker, _, edited, reply, press = updates
        assert contact.message and contact.message.contact
        assert contact.message.contact.phone_number == "+8613800000000"
        assert sticker.message and sticker.message.sticker
        assert edited.edited_message and edited.edited_message.text == "first, edited"
        assert reply.message and reply.message.reply_to_message
        assert reply.message.reply_to_message.message_id == menu.message_id
        assert press.callback_query and press.callback_query.data == "forged:data"
        assert press.callback_query.from_user.language_code == "zh-hans"

        group = fake.group(-100123, title="Staff")
        await group.send(eve, "/start")
        await bot.send_message(-100123, "hello staff")
        assert [m.text for m in fake.chat(-100123)] == ["hello staff"]
        assert (await group.expect_message()).text == "hello staff"


@pytest.mark.asyncio
async def test_expect_message_timeout_shows_the_chat(fake: FakeTelegram) -> None:
    frank = fake.user(1007)
    async with make_bot(fake) as bot:
        await bot.send_message(1007, "old news")
    await frank.send("anyone?")
    with pytest.raises(AssertionError, match=r"(?i)old news"):
        await frank.expect_message(timeout=0.2)


@pytest.mark.asyncio
async def test_token_never_in_responses(fake: FakeTelegram) -> None:
    fake.user(1008)
    secret = TOKEN.split(":")[1]
    async with httpx.AsyncClient() as client:
        urls = [
            f"{fake.base_url}{TOKEN}/getMe",
            f"{fake.base_url}{TOKEN}/sendMessage?chat_id=1008&text={TOKEN}",
            f"{fake.base_url}{TOKEN}/sendMessage?chat_id=5&text=x",
            f"{fake.base_url}{TOKEN}/noSuchMethod",
            f"{fake.base_url}{TOKEN}x/getMe",
            f"{fake.file_url}{TOKEN}/files/none",
            f"http://127.0.0.1:{fake.port}/{TOKEN}",
        ]
        bodies = [(await client.get(url)).text for url in urls]
    assert all(secret not in body for body in bodies[:1] + bodies[2:])
    # (the one exception is text the bot itself sent: it's echoed back in its Message)


async def test_forum_topics_and_reactions_as_telegram_answers(fake: FakeTelegram) -> None:
    """A forum supergroup's topics (made, renamed, closed, deleted: then "message thread
    not found" for sends and TOPIC_DELETED for the topic methods) and reactions."""
    from telegram import ReactionTypeEmoji
    from telegram.error import BadRequest

    plain, forum = fake.group(-100_777), fake.group(-100_888, is_forum=True)
    async with make_bot(fake) as bot:
        assert (await bot.get_chat(forum.chat_id)).is_forum
        assert not (await bot.get_chat(plain.chat_id)).is_forum
        with pytest.raises(BadRequest, match=r"(?i)not a forum"):
            await bot.create_forum_topic(plain.chat_id, "#1")
        with pytest.raises(BadRequest, match=r"(?i)topic_title_too_long"):
            await bot.create_forum_topic(forum.chat_id, "x" * 129)
        topic = await bot.create_forum_topic(forum.chat_id, "#1 · Acme · new")
        thread = topic.message_thread_id
        sent = await bot.send_message(forum.chat_id, "card", message_thread_id=thread)
        assert sent.message_thread_id == thread and sent.is_topic_message
        general = await bot.send_message(forum.chat_id, "no topic")  # the General topic
        assert general.message_thread_id is None
        await bot.edit_forum_topic(forum.chat_id, thread, name="#1 · Acme · closed")
        with pytest.raises(BadRequest, match=r"(?i)topic_not_modified"):
            await bot.edit_forum_topic(forum.chat_id, thread, name="#1 · Acme · closed")
        await bot.close_forum_topic(forum.chat_id, thread)
        assert fake.topic(forum.chat_id, thread).closed
        await bot.reopen_forum_topic(forum.chat_id, thread)

        member = fake.user(77, first_name="Member")
        said = await forum.send(member, "hello", thread=thread)
        assert said["is_topic_message"] and said["reply_to_message"]["message_id"] == thread
        await bot.set_message_reaction(forum.chat_id, said["message_id"], [ReactionTypeEmoji("👀")])
        assert fake.reactions(forum.chat_id, said["message_id"]) == ["👀"]
        with pytest.raises(BadRequest, match=r"(?i)reaction_invalid"):
            await bot.set_message_reaction(forum.chat_id, said["message_id"], "🦖")

        fake.delete_topic(forum.chat_id, thread)
        with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
            await bot.send_message(forum.chat_id, "after", message_thread_id=thread)
        with pytest.raises(BadRequest, match=r"(?i)topic_deleted"):
            await bot.close_forum_topic(forum.chat_id, thread)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("edited", forum.chat_id, sent.message_id)
        # Outside a forum, a thread id is a reply thread: the message simply lands.
        assert (await bot.send_message(plain.chat_id, "x", message_thread_id=5)).message_id
