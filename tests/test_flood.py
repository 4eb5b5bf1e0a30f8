"""The per-user token bucket of bot/flood.py, without Telegram (the bot-level burst test
is in tests/test_hostile.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.traffic.flood import FloodGate, Verdict


def test_burst_then_one_note_then_quiet_drops() -> None:
    gate = FloodGate(burst=8, rate=3)
    verdicts = [gate.check(1, 0.0) for _ in range(12)]
    assert verdicts == [Verdict.ALLOW] * 8 + [Verdict.NOTE] + [Verdict.DROP] * 3


def test_refills_at_the_rate() -> None:
    gate = FloodGate(burst=2, rate=4)
    assert [gate.check(1, 0.0) for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTE]
    assert gate.check(1, 0.1) is Verdict.DROP  # 0.4 of a token: not yet
    assert gate.check(1, 0.25) is Verdict.ALLOW  # a whole token back (0.1 s × 4 + 0.6)
    assert gate.check(1, 0.25) is Verdict.DROP  # still the same episode: told already


def test_a_new_episode_is_told_again_after_calming_down() -> None:
    gate = FloodGate(burst=2, rate=1)
    assert [gate.check(1, 0.0) for _ in range(3)][-1] is Verdict.NOTE
    assert gate.check(1, 2.5) is Verdict.ALLOW  # full again: the episode is over
    assert gate.check(1, 2.5) is Verdict.ALLOW
    assert gate.check(1, 2.5) is Verdict.NOTE


def test_users_do_not_share_a_bucket() -> None:
    gate = FloodGate(burst=3, rate=1)
    for _ in range(10):
        gate.check(1, 0.0)
    assert gate.check(2, 0.0) is Verdict.ALLOW


def test_idle_users_are_forgotten() -> None:
    gate = FloodGate(burst=8, rate=4)  # full again after 2 s
    for user in range(1000):
        gate.check(user, user * 0.01)  # 100 users a second, each once
    assert len(gate) <= 2 * 100 + 1  # only those seen within the last 2 s


def test_a_clock_step_back_refills_nothing() -> None:
    gate = FloodGate(burst=1, rate=1)
    assert gate.check(1, 10.0) is Verdict.ALLOW
    assert gate.check(1, 5.0) is Verdict.NOTE


@pytest.mark.parametrize(("burst", "rate"), [(0, 1), (1, 0), (1, -1)])
def test_nonsense_limits_are_refused(burst: int, rate: float) -> None:
    with pytest.raises(ValueError):
        FloodGate(burst, rate)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 20),
    st.floats(0.5, 20),
    st.lists(st.tuples(st.integers(1, 3), st.floats(0, 0.5)), max_size=200),
)
def test_never_more_than_burst_plus_refill(
    burst: int, rate: float, events: list[tuple[int, float]]
) -> None:
    """Whatever the pattern, a user gets at most burst + rate × elapsed updates through,
    and is told at most once per stretch of drops."""
    gate = FloodGate(burst, rate)
    now = 0.0
    passed: dict[int, int] = {}
    for user, gap in events:
        now += gap
        if gate.check(user, now) is Verdict.ALLOW:
            passed[user] = passed.get(user, 0) + 1
    for count in passed.values():
        assert count <= burst + rate * now + 1e-9
