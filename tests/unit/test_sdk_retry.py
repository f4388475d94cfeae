"""The SDK's decision to wait out a ``Retry-After`` (tweestap_client.retry): pure, so the time
left and the random draw are passed in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tweestap_client.retry import (
    MIN_ATTEMPT_SECONDS,
    parse_retry_after,
    retry_order,
    retry_wait,
)


def test_the_shortest_retry_after_is_waited_when_the_budget_has_room() -> None:
    # Zone a refused the connection (no hint), zone b answered hasher-busy, Retry-After: 1.
    assert retry_wait([None, 1.0], remaining=4.0, jitter=0.1, rand=0.0) == 1.0
    assert retry_wait([3.0, 1.0], remaining=4.0, jitter=0.1, rand=0.0) == 1.0, "the shortest"


def test_jitter_lengthens_the_wait_never_shortens_it() -> None:
    assert retry_wait([1.0], remaining=4.0, jitter=0.1, rand=0.5) == 1.05
    assert retry_wait([2.0], remaining=10.0, jitter=0.2, rand=0.99) == 2.0 * (1 + 0.2 * 0.99)


def test_no_hint_no_wait() -> None:
    """Refused connections and timeouts everywhere: nothing says when to come back."""
    assert retry_wait([None, None], remaining=5.0, jitter=0.1, rand=0.3) is None
    assert retry_wait([], remaining=5.0, jitter=0.1, rand=0.3) is None


def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    assert retry_wait([30.0], remaining=5.0, jitter=0.1, rand=0.0) is None, "a 429 of 30 s"
    assert retry_wait([1.0], remaining=1.0, jitter=0.1, rand=0.0) is None, "no time to try"
    assert retry_wait([1.0], remaining=-0.5, jitter=0.1, rand=0.0) is None, "spent already"


def test_jitter_is_cut_to_leave_time_for_the_attempt() -> None:
    wait = retry_wait([1.0], remaining=1.3, jitter=0.5, rand=0.9)
    assert wait == 1.3 - MIN_ATTEMPT_SECONDS


@given(
    hints=st.lists(st.one_of(st.none(), st.floats(0, 60)), max_size=4),
    remaining=st.floats(-10, 60),
    jitter=st.floats(0, 1),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_a_wait_is_never_sooner_than_asked_nor_past_the_budget(
    hints: list[float | None], remaining: float, jitter: float, rand: float
) -> None:
    wait = retry_wait(hints, remaining, jitter, rand)
    given_hints = [h for h in hints if h is not None]
    if wait is None:
        assert not given_hints or min(given_hints) > remaining - MIN_ATTEMPT_SECONDS
        return
    assert min(given_hints) <= wait <= remaining - MIN_ATTEMPT_SECONDS


def test_zones_that_asked_to_come_back_are_tried_first() -> None:
    assert retry_order([0, 1], hinted={1}) == [1, 0], "zone a refused, zone b was busy"
    assert retry_order([1, 0, 2], hinted={0, 2}) == [0, 2, 1]
    assert retry_order([0, 1], hinted=set()) == [0, 1]


def test_retry_after_in_seconds_only() -> None:
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None, "a date is not waited"
    assert parse_retry_after("-1") is None
    assert parse_retry_after("inf") is None
