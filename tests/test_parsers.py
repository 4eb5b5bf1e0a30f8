"""Property tests: every parser of user input answers with a value or a clear refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.catalog.service import ListRef
from bot.formats import validate
from bot.ui.callbacks import MAX_BYTES, cb, parse
from bot.ui.deeplinks import make_payload, parse_payload
from bot.ui.errors import FieldError


@given(st.text(max_size=80))
def test_phone_never_raises_anything_else(text: str) -> None:
    try:
        value = validate.phone(text)
    except FieldError as refusal:
        assert refusal.key == "profile.bad_phone"
    else:
        digits = value.lstrip("+")
        assert digits.isdigit() and 6 <= len(digits) <= 15


@given(st.text(max_size=250))
def test_email_never_raises_anything_else(text: str) -> None:
    try:
        value = validate.email(text)
    except FieldError as refusal:
        assert refusal.key == "profile.bad_email"
    else:
        assert value.count("@") == 1 and "." in value.split("@")[1]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("+86 138-0000-0000", "+8613800000000"), ("(022) 1234 5678", "02212345678"),
     ("＋86 13800000000", "+8613800000000")],
)  # fmt: skip
def test_phone_forms(typed: str, stored: str) -> None:
    assert validate.phone(typed) == stored


@pytest.mark.parametrize("bad", ["12", "call me", "+86 138 0000 0000 0000 00", "１２３abc"])
def test_phone_refusals(bad: str) -> None:
    with pytest.raises(FieldError):
        validate.phone(bad)


@given(st.text(max_size=100) | st.binary(max_size=100).map(lambda b: b.decode("latin-1")))
def test_callback_parse_is_total(data: str) -> None:
    parsed = parse(data)
    if parsed is not None:
        assert len(data.encode()) <= MAX_BYTES
        assert parsed.pack() == data


@given(st.lists(st.from_regex(r"[A-Za-z0-9_.\-]{1,10}", fullmatch=True), min_size=2, max_size=5))
def test_callback_roundtrip(parts: list[str]) -> None:
    data = ":".join(parts)
    if len(data.encode()) <= MAX_BYTES:
        assert cb(*parts) == data
        assert parse(data) is not None


@given(st.text(max_size=80))
def test_deeplink_parse_is_total(text: str) -> None:
    payload = parse_payload(text)
    if payload is not None:
        assert make_payload(payload.kind, payload.value) == text


@given(st.text(max_size=30), st.text(max_size=30))
def test_list_ref_parse_is_total(source: str, anchor: str) -> None:
    ref = ListRef.parse(source, anchor)
    if ref is not None:
        assert cb("c", "l", ref.source, ref.anchor)
