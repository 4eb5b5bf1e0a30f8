"""bot/text.py: messages measured as Telegram measures them and clipped on their text.

Properties over any pieces (emoji, CJK, characters outside the BMP, combining marks,
`&<>`, long words): the result is valid HTML for the fake Bot API's parser (which is
Telegram's), within the limit, and clipped only where it had to be."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ui.text import (
    CAPTION_LIMIT,
    CLIP_FIRST,
    ELLIPSIS,
    KEEP,
    TEXT_LIMIT,
    Html,
    Markup,
    MessageTooLong,
    Plain,
    bold,
    clip_text,
    fit_lines,
    split_lines,
    tr,
    visible_len,
)
from tests.fakebot.models import parse_html

CHECK = settings(max_examples=300, deadline=None)
ODD = "&<>\"' 智能制造😀👩‍💻🇨🇳é\u0301\U0001d54f\U00020000\n\t"
TEXT = st.text(alphabet=st.sampled_from(list(ODD) + list("abc xyz")), max_size=400) | st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), max_size=200
)
LONG_WORD = st.integers(1, 3000).map(lambda n: "W" * n)
RANK = st.sampled_from([CLIP_FIRST, 0, KEEP])
PLAIN = st.builds(Plain, TEXT | LONG_WORD, RANK)
MARK = st.sampled_from(["&amp;", "&#128512;", "&lt;", "\n", "• ", "智", "<code>x</code>", ""])


def _wrap(inner: st.SearchStrategy[Html]) -> st.SearchStrategy[Html]:
    tags = st.sampled_from(
        [("<b>", "</b>"), ("<i>", "</i>"), ('<a href="https://x.org/?a=1&amp;b=2">', "</a>"),
         ("<tg-spoiler>", "</tg-spoiler>"), ("<blockquote>", "</blockquote>")]
    )  # fmt: skip
    return st.builds(
        lambda tag, parts: Html(tag[0], *parts, tag[1]), tags, st.lists(inner, max_size=4)
    )


LEAF = st.one_of(PLAIN.map(Html), MARK.map(lambda m: Html(Markup(m))))
MESSAGE = st.recursive(LEAF, _wrap, max_leaves=12).map(Html)
LIMIT = st.sampled_from([1, 10, 64, 200, CAPTION_LIMIT, TEXT_LIMIT])


def shown(html: str) -> str:
    """What Telegram shows (raises, as the fake does, on HTML it cannot parse)."""
    return parse_html(html)


@CHECK
@given(MESSAGE, LIMIT)
def test_fit_is_valid_html_within_the_limit(message: Html, limit: int) -> None:
    try:
        html = message.fit(limit)
    except MessageTooLong:
        assert message.min_length() > limit  # only when even every "…" is too much
        return
    text = shown(html)
    assert len(text) <= limit
    assert visible_len(html) == len(text)
    if message.length() <= limit:
        assert html == message.render()  # nothing clipped that fitted
    else:
        assert ELLIPSIS in text


@CHECK
@given(MESSAGE)
def test_visible_length_is_telegrams(message: Html) -> None:
    html = message.render()
    assert visible_len(html) == len(shown(html)) == message.length()


@CHECK
@given(TEXT | LONG_WORD, st.integers(0, 500))
def test_clip_text(text: str, limit: int) -> None:
    clipped = clip_text(text, limit)
    assert len(clipped) <= limit
    if len(text) <= limit:
        assert clipped == text
    elif limit:
        assert clipped.endswith(ELLIPSIS)
        assert text.startswith(clipped[:-1])


def test_clip_keeps_character_clusters_whole() -> None:
    assert clip_text("👩‍💻" * 10, 6) == "👩‍💻…"
    assert clip_text("🇨🇳🇺🇸🇬🇧", 4) == "🇨🇳…"
    assert clip_text("e\u0301" * 3, 4) == "e\u0301…"  # never an accent without its e
    assert clip_text("short", 5) == "short"
    assert clip_text("one two three four five six seven", 20) == "one two three four…"


@CHECK
@given(st.lists(PLAIN, min_size=1, max_size=8), st.integers(20, 2000))
def test_clips_lowest_rank_then_longest_first(pieces: list[Plain], limit: int) -> None:
    pieces = [Plain(p.text.replace("\n", " "), p.rank) for p in pieces]  # one line each
    message = Html.join("\n", pieces)
    try:
        html = message.fit(limit)
    except MessageTooLong:
        return
    kept = shown(html).split("\n")
    for piece, text in zip(pieces, kept, strict=True):
        clipped = text != piece.text
        for other, other_text in zip(pieces, kept, strict=True):
            if other.rank > piece.rank and other_text != other.text:
                assert len(text) <= 1  # a higher rank gives way once the lower are "…"
            if clipped and other.rank == piece.rank and len(other.text) > len(piece.text):
                assert other_text != other.text  # the longer went first


def test_keep_rank_survives_when_others_can_give_way() -> None:
    message = Html(bold(Plain("T" * 100)), "\n", Plain("x" * 9000), "\n", Plain("m" * 3000, KEEP))
    html = message.fit()
    text = shown(html)
    assert len(text) == TEXT_LIMIT and "m" * 3000 in text and "T" * 100 in text


@CHECK
@given(st.lists(PLAIN.map(lambda p: Html("• ", p)), max_size=300), LIMIT.filter(lambda n: n >= 200))
def test_lists_fit_and_count_what_they_leave_out(lines: list[Html], limit: int) -> None:
    def more(n: int) -> str:
        return f"… {n} more"

    for keep in ("first", "last"):
        html = fit_lines(bold("Head"), lines, more=more, keep=keep, limit=limit)
        text = shown(html)
        assert len(text) <= limit and text.startswith("Head")
    parts = split_lines(bold("Head"), lines, more=more, max_messages=3, limit=limit)
    assert 1 <= len(parts) <= 3
    for part in parts:
        assert len(shown(part)) <= limit


def test_list_notes_say_how_many() -> None:
    lines = [Html("• ", Plain(f"step {i:03}")) for i in range(300)]
    first = fit_lines("<b>Due</b>", lines, more=lambda n: f"… and {n} more", limit=200)
    text = shown(first)
    count = text.count("• step")
    assert text.endswith(f"… and {300 - count} more") and "step 000" in text
    last = fit_lines("<b>Due</b>", lines, more=lambda n: f"… {n} earlier", keep="last", limit=200)
    text = shown(last)
    assert f"… {300 - text.count('• step')} earlier" in text and text.endswith("step 299")
    parts = split_lines("<b>Due</b>", lines, more=lambda n: f"… and {n} more", max_messages=40)
    assert "".join(shown(p) for p in parts).count("• step") == 300 and len(parts) == 1
    parts = split_lines("<b>Due</b>", lines, more=lambda n: f"… and {n} more", limit=300)
    assert len(parts) == 5 and parts[0].startswith("<b>Due</b>")
    total = sum(shown(p).count("• step") for p in parts)
    assert shown(parts[-1]).endswith(f"… and {300 - total} more")


def test_catalog_text_becomes_pieces() -> None:
    message = tr("en", "inquiry.answer", who=Plain("<Bob>"), title="<i>T</i>", id=7,
                 text=Plain("a & b " * 2000))  # fmt: skip
    html = message.fit()
    assert html.startswith("💬 <b>Answer from &lt;Bob&gt;</b> about “<i>T</i>” (#7):")
    assert TEXT_LIMIT - 12 <= len(shown(html)) <= TEXT_LIMIT  # ends on a word, near the limit
    assert shown(html).endswith(" a" + ELLIPSIS)
