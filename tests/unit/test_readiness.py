"""Readiness says whether an instance can serve requests, and a zone catching up with the bus
is closed for a bounded time (issue 11). Pure logic: no broker, no DB."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import pytest
from aiokafka import TopicPartition

from shared.consumer import LAG_REPORT_SECONDS, EventConsumer
from shared.http import readiness
from shared.metrics import Metrics
from shared.settings import Settings
from tests.support.cluster import SEALING

UP = {"database": True, "broker": True, "tasks": True}


def test_all_up_is_ready() -> None:
    assert readiness(UP, needs_broker=False) == "ready"
    assert readiness(UP, needs_broker=True) == "ready"


def test_without_the_broker_a_service_serves_degraded() -> None:
    assert readiness({**UP, "broker": False}, needs_broker=False) == "degraded"


def test_a_service_that_needs_the_broker_is_not_ready_without_it() -> None:
    assert readiness({**UP, "broker": False}, needs_broker=True) is None


@pytest.mark.parametrize("check", ["database", "tasks"])
def test_database_or_tasks_failing_is_not_ready(check: str) -> None:
    assert readiness({**UP, check: False}, needs_broker=False) is None


def test_settings_refuse_a_heartbeat_not_below_the_session_timeout() -> None:
    with pytest.raises(ValueError, match="heartbeat"):
        Settings(kafka_session_timeout_ms=3000, kafka_heartbeat_interval_ms=3000)


def _consumer(metrics: Metrics, catch_up_max_seconds: float) -> EventConsumer:
    settings = Settings(catch_up_max_seconds=catch_up_max_seconds, sealing_keys=SEALING)
    # The pool is never touched by what these tests call.
    return EventConsumer(settings, cast(Any, None), metrics, "auth", {})


def _gauge(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value(
        "tweestap_catching_up", {"service": "t", "zone": "a", "consumer": "auth"}
    )


def test_a_consumer_behind_is_not_ready_until_caught_up() -> None:
    metrics = Metrics("t", "a")
    consumer = _consumer(metrics, 60)
    assert not consumer.behind and consumer.not_ready() is None and _gauge(metrics) == 0
    consumer._fall_behind()
    assert consumer.behind and _gauge(metrics) == 1
    assert (consumer.not_ready() or "").startswith("catching up")
    consumer._caught_up()
    assert not consumer.behind and consumer.not_ready() is None and _gauge(metrics) == 0


async def test_catching_up_is_bounded_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """Past ``catch_up_max_seconds`` (the broker cannot be reached) the zone serves with what
    it has: no longer behind nor unready, but the gauge stays 1 and a warning says why."""
    metrics = Metrics("t", "a")
    consumer = _consumer(metrics, 0.05)
    consumer._fall_behind()
    assert consumer.behind
    await asyncio.sleep(0.1)
    with caplog.at_level(logging.WARNING, logger="shared.consumer"):
        assert not consumer.behind and consumer.not_ready() is None
        assert not consumer.behind
    assert _gauge(metrics) == 1, "the state may still lack events: the gauge says so"
    warnings = [r for r in caplog.records if "has not caught up" in r.getMessage()]
    assert len(warnings) == 1, "said once, not on every request"


async def test_a_process_that_was_stopped_is_behind_until_it_has_read_to_the_end() -> None:
    """A process frozen for a while (SIGSTOP, a paused VM: here the event loop held) missed
    what the bus carried meanwhile (the other zone's revocations, a new password): from the
    first moment it runs again it is behind, before any request is decided on stale state."""
    metrics = Metrics("t", "a")
    settings = Settings(catch_up_max_seconds=60, stall_seconds=0.3, sealing_keys=SEALING)
    consumer = EventConsumer(settings, cast(Any, None), metrics, "auth", {})
    watch = asyncio.create_task(consumer.watch())
    try:
        await asyncio.sleep(0.1)
        assert not consumer.behind, "running normally"
        time.sleep(0.5)  # noqa: ASYNC251 - the loop held, as a stopped process's is
        assert consumer.behind, "a stall longer than stall_seconds: behind at once"
        await asyncio.sleep(0.2)
        assert consumer.behind, "until it has read to the end, not merely run again"
        assert _gauge(metrics) == 1
    finally:
        watch.cancel()


def test_a_work_queue_consumer_is_never_catching_up() -> None:
    """The notifier's requests (a group shared across zones): nothing is decided on them."""
    metrics = Metrics("t", "a")
    settings = Settings(catch_up_max_seconds=60, sealing_keys=SEALING)
    queue = EventConsumer(settings, cast(Any, None), metrics, "auth", {}, keeps_state=False)
    queue._fall_behind()
    assert not queue.behind and queue.not_ready() is None and _gauge(metrics) == 0


class _StaleFetcher:
    """What aiokafka knows of one partition after a stop: the highwater of its last fetch
    response (from before the stop) equals its position, while the broker's end has moved on
    (the other zone wrote meanwhile)."""

    def __init__(self, position: int, stale_highwater: int, end: int) -> None:
        self.tp = TopicPartition("t.auth.events", 0)
        self.position_ = position
        self.stale_highwater = stale_highwater
        self.end = end
        self.asked_ends = 0

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    def highwater(self, tp: TopicPartition) -> int:
        return self.stale_highwater

    async def position(self, tp: TopicPartition) -> int:
        return self.position_

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked_ends += 1
        return {tp: self.end for tp in partitions}


async def test_caught_up_only_against_ends_asked_for_after_falling_behind() -> None:
    """The CI's ``test_stopped_process`` failure: run again after a stop, the consumer's first
    empty batch compared its position with the highwater of a fetch from before the stop and
    called the zone caught up, although the bus held records it had not read. Caught up now
    means: at the end the broker names when asked after the zone fell behind."""
    metrics = Metrics("t", "a")
    consumer = _consumer(metrics, 60)
    consumer.joined = True
    consumer._fall_behind()
    stale = _StaleFetcher(position=10, stale_highwater=10, end=12)
    await consumer._report_lag(cast(Any, stale))
    assert consumer.behind, "two records on the bus not read: still catching up"
    assert stale.asked_ends == 1
    stale.position_ = stale.stale_highwater = 12
    await consumer._report_lag(cast(Any, stale))
    assert not consumer.behind and _gauge(metrics) == 0
    await consumer._report_lag(cast(Any, stale))
    assert stale.asked_ends == 2, "the broker is asked only while behind"


def test_a_caught_up_consumer_reads_its_lag_at_most_every_half_second() -> None:
    """Read at every batch, the lag (each assigned partition's position) was a twentieth of
    a login's event-loop CPU in auth; caught up, it is read every LAG_REPORT_SECONDS, while
    catching up at every batch (the end must be seen at once)."""
    consumer = _consumer(Metrics("t", "a"), 60)
    assert consumer._lag_due(100.0)
    assert not consumer._lag_due(100.0 + LAG_REPORT_SECONDS / 2)
    assert consumer._lag_due(100.0 + LAG_REPORT_SECONDS)
    consumer._fall_behind()
    assert consumer._lag_due(100.0 + LAG_REPORT_SECONDS)
    assert consumer._lag_due(100.0 + LAG_REPORT_SECONDS)
