"""The worker supervisor's restart backoff (services/process/workers.py): pure rules."""

from __future__ import annotations

from shared.backoff import Backoff

BACKOFF = Backoff(first=1.0, most=60.0)


def test_the_wait_doubles_per_consecutive_failure_up_to_the_most() -> None:
    assert [BACKOFF.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_worker_that_dies_soon_after_its_start_counts_one_failure_more() -> None:
    assert BACKOFF.failures_after(3, ran_seconds=0.5) == 4


def test_a_worker_that_ran_long_enough_starts_a_fresh_count() -> None:
    assert BACKOFF.failures_after(6, ran_seconds=60.0) == 1
    assert BACKOFF.delay(BACKOFF.failures_after(6, ran_seconds=3600.0)) == 1.0
