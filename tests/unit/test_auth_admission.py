"""Who waits for a hashing thread and who is turned away (services.auth.domain.admission):
oldest first, fair shares per client address when full, nothing served after max_wait."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.domain.admission import AdmissionQueue, Served

FLOODER, OTHER = "192.0.2.1", "198.51.100.7"


def test_a_full_queue_makes_room_for_another_address_at_the_floods_expense() -> None:
    queue = AdmissionQueue(capacity=4)
    flood = [queue.admit(FLOODER, now=0).ticket for _ in range(4)]
    assert queue.admit(FLOODER, now=0).ticket is None, "the flooder holds every place"
    other = queue.admit(OTHER, now=1)
    assert other.ticket is not None and other.displaced == (flood[-1],), "its newest gives way"
    second = queue.admit(OTHER, now=1)
    assert second.displaced == (flood[-2],)
    assert queue.admit(OTHER, now=1).ticket is None, "2 and 2: equal shares, the newcomer waits"
    assert [queue.next(now=2).ticket for _ in range(4)] == [
        flood[0],
        flood[1],
        other.ticket,
        second.ticket,
    ], "oldest first"
    assert queue.next(now=2).ticket is None


def test_one_place_more_is_no_reason_to_displace() -> None:
    queue = AdmissionQueue(capacity=3)
    queue.admit(FLOODER, now=0)
    queue.admit(FLOODER, now=0)
    queue.admit(OTHER, now=0)
    refused = queue.admit(OTHER, now=0)
    assert refused.ticket is None and refused.displaced == (), "2 and 1 → 1 and 2 is no fairer"


def test_a_request_that_waited_too_long_is_dropped_not_served() -> None:
    queue = AdmissionQueue(capacity=10, max_wait=4.0)
    old = queue.admit(OTHER, now=0).ticket
    fresh = queue.admit(OTHER, now=3).ticket
    served = queue.next(now=4.5)
    assert served.stale == (old,) and served.ticket == fresh
    assert len(queue) == 0


def test_stale_places_are_freed_for_newcomers() -> None:
    queue = AdmissionQueue(capacity=1, max_wait=4.0)
    old = queue.admit(FLOODER, now=0).ticket
    newcomer = queue.admit(FLOODER, now=5)
    assert newcomer.ticket is not None and newcomer.stale == (old,)


def test_no_queue_at_all() -> None:
    assert AdmissionQueue(capacity=0).admit(OTHER, now=0).ticket is None


def test_a_cancelled_ticket_leaves_the_queue() -> None:
    queue = AdmissionQueue(capacity=2)
    ticket = queue.admit(OTHER, now=0).ticket
    assert ticket is not None
    assert queue.cancel(ticket) and not queue.cancel(ticket)
    assert queue.held(OTHER) == 0 and queue.next(now=0).ticket is None


def test_a_caller_with_less_patience_is_dropped_sooner() -> None:
    queue = AdmissionQueue(capacity=10, max_wait=4.0)
    hurried = queue.admit(OTHER, now=0, patience=1.0).ticket
    calm = queue.admit(OTHER, now=0, patience=30.0).ticket  # no longer than max_wait
    assert hurried is not None and calm is not None
    assert queue.next(now=1.5) == Served(calm, stale=(hurried,))
    assert queue.admit(OTHER, now=2, patience=30.0).stale == (), "calm was served"
    assert queue.admit(OTHER, now=2, patience=0.0).ticket is None, "no time to wait at all"


def test_settings_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError):
        AdmissionQueue(capacity=-1)
    with pytest.raises(ValueError):
        AdmissionQueue(capacity=1, max_wait=0)


ADDRESSES = st.sampled_from(["a", "b", "c", "d"])
#: ("admit", address) or ("next", None), each one tick after the one before.
OPERATIONS = st.lists(
    st.one_of(st.tuples(st.just("admit"), ADDRESSES), st.tuples(st.just("next"), st.none())),
    max_size=120,
)


@given(
    capacity=st.integers(0, 8),
    max_wait=st.sampled_from([3.0, 1e9]),
    ops=OPERATIONS,
    patience=st.lists(st.one_of(st.none(), st.floats(0.5, 10)), min_size=1),
)
def test_the_queue_is_bounded_fair_and_served_oldest_first(
    capacity: int,
    max_wait: float,
    ops: list[tuple[str, str | None]],
    patience: list[float | None],
) -> None:
    queue = AdmissionQueue(capacity, max_wait)
    admitted_at: dict[int, float] = {}
    key_of: dict[int, str] = {}
    until: dict[int, float] = {}
    served: list[int] = []
    ended: list[int] = []  # served, displaced or dropped: each ticket once
    for now, (op, key) in enumerate(ops):
        if op == "admit":
            assert key is not None
            held = {k: queue.held(k) for k in "abcd"}
            given = patience[now % len(patience)]
            result = queue.admit(key, now, given)
            ended += [*result.displaced, *result.stale]
            if result.ticket is None:
                # Refused only when full and no address holds two places more than it.
                assert len(queue) >= capacity
                assert all(h <= held[key] + 1 for k, h in held.items() if k != key), held
            else:
                admitted_at[result.ticket], key_of[result.ticket] = now, key
                until[result.ticket] = now + min(max_wait, given or max_wait)
            for ticket in result.displaced:  # the displaced held the most, and gave its newest
                assert queue.held(key_of[ticket]) >= queue.held(key)
                later = [t for t in admitted_at if key_of[t] == key_of[ticket] and t > ticket]
                assert all(t in ended or t == result.ticket for t in later)
        else:
            result_next = queue.next(now)
            ended += list(result_next.stale)
            if result_next.ticket is not None:
                assert now <= until[result_next.ticket], "served late"
                served.append(result_next.ticket)
                ended.append(result_next.ticket)
            for ticket in result_next.stale:
                assert now > until[ticket], "dropped while still worth serving"
        assert len(queue) <= capacity
    assert served == sorted(served), "oldest first (so first in, first out per address too)"
    assert len(ended) == len(set(ended)), "a ticket ends once"
    assert len(ended) + len(queue) == len(admitted_at), "every ticket accounted for"


@given(
    capacity=st.integers(2, 12),
    pattern=st.lists(st.booleans(), min_size=1, max_size=200),
)
def test_a_flood_never_keeps_a_modest_address_out(capacity: int, pattern: list[bool]) -> None:
    """One address sends without end; another keeps at most half the queue's places waiting.
    The second is never refused, however the two interleave and whatever is served."""
    queue = AdmissionQueue(capacity)
    for now, other_turn in enumerate(pattern):
        if other_turn and queue.held(OTHER) < capacity // 2:
            assert queue.admit(OTHER, now).ticket is not None, f"refused at {queue.held(OTHER)}"
        else:
            queue.admit(FLOODER, now)
            queue.admit(FLOODER, now)
        if now % 3 == 0:
            queue.next(now)
