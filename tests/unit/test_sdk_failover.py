"""The SDK's call order: the zone in use first, then the others; zones that failed last."""

from __future__ import annotations

from tweestap_client.failover import call_order, zone_after


def test_the_zone_in_use_first_then_the_others_wrapping_around() -> None:
    assert call_order(0, 2, set()) == [0, 1]
    assert call_order(1, 2, set()) == [1, 0]
    assert call_order(2, 4, set()) == [2, 3, 0, 1]


def test_a_zone_that_failed_goes_last_even_when_it_is_the_zone_in_use() -> None:
    assert call_order(0, 2, {0}) == [1, 0], "only the call that found zone a gone pays for it"
    assert call_order(1, 3, {2}) == [1, 0, 2]
    assert call_order(0, 3, {0, 1}) == [2, 0, 1], "failed zones keep their order, as a last resort"


def test_every_zone_once_when_all_failed() -> None:
    assert call_order(1, 3, {0, 1, 2}) == [1, 2, 0]


def test_a_call_answered_where_it_began_leaves_the_zone_alone() -> None:
    # Began on zone 1; meanwhile the probe moved the client back to zone 0.
    assert zone_after(began=1, answered=1, current=0) == 0, "the probe's move is not undone"
    assert zone_after(began=0, answered=0, current=0) == 0


def test_a_call_that_moved_moves_the_client() -> None:
    assert zone_after(began=0, answered=1, current=0) == 1
    assert zone_after(began=0, answered=1, current=1) == 1
