"""A consumer that shares its group with another zone's (the notifier's requests: each
received once) may be assigned no partition at all; it has nothing to read, so it is caught
up, not catching up for ever (found by the convergence checks: a restarted notifier said
"catching up" for minutes). Real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.dev.infra import Broker, Postgres
from shared.consumer import EventConsumer
from shared.db import Migrations, ensure_database, migrate
from shared.events import Envelope
from shared.metrics import Metrics
from shared.settings import Settings, TopicSettings
from shared.topics import NOTIFY_REQUESTS
from tests.support.bus import send
from tests.support.cluster import SEALING, wait_for


async def _nothing(conn: asyncpg.Connection, event: Envelope) -> None:
    """The records' effect does not matter here."""


@pytest.fixture
async def pools(postgres: Postgres, tmp_path: Path) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    """A database of its own for each zone's consumer (shared migrations only)."""
    made = {}
    try:
        for zone in ("a", "b"):
            dsn = postgres.dsn(f"groups_{zone}_{secrets.token_hex(4)}")
            await ensure_database(dsn)
            await migrate(dsn, "groups", Migrations(tmp_path))
            made[zone] = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        yield made
    finally:
        for pool in made.values():
            await pool.close()


async def test_a_member_assigned_no_partition_is_caught_up(
    broker: Broker, pools: dict[str, asyncpg.Pool]
) -> None:
    prefix = f"groups-{secrets.token_hex(4)}."
    consumers = []
    for zone in ("a", "b"):
        settings = Settings(
            service="notifier",
            zone=zone,
            kafka_bootstrap=broker.bootstrap,
            topic_prefix=prefix,
            topics=TopicSettings(partitions=1),
            sealing_keys=SEALING,
            catch_up_max_seconds=3600,  # caught up, not past the bound
        )
        consumer = EventConsumer(
            settings,
            pools[zone],
            Metrics("notifier", zone),
            "notifier-requests",
            {NOTIFY_REQUESTS: _nothing},
            group=settings.shared_group("requests"),
        )
        consumer._fall_behind()  # as a restart on a database that has consumed before
        consumers.append(consumer)
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    try:

        async def both_caught_up() -> bool:
            return not any(c.behind for c in consumers)

        await wait_for(both_caught_up, timeout=30, what="both members caught up")
        assert all(c.joined for c in consumers)
        assigned = sorted(len(c.partitions) for c in consumers)
        assert assigned == [0, 1], "one partition, two members: one has none"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _state_consumer(
    broker: Broker, pool: asyncpg.Pool, prefix: str, seen: list[str], **more: Any
) -> EventConsumer:
    """A consumer that keeps a zone's state, committing at most once a minute."""
    settings = Settings(
        **more,
        service="auth",
        zone="a",
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=prefix,
        topics=TopicSettings(partitions=1),
        sealing_keys=SEALING,
        kafka_commit_interval_ms=60_000,
    )

    async def note(conn: asyncpg.Connection, event: Envelope) -> None:
        seen.append(str(event.id))

    return EventConsumer(settings, pool, Metrics("auth", "a"), "lazy", {NOTIFY_REQUESTS: note})


async def _event(broker: Broker, prefix: str) -> Envelope:
    event = Envelope(type="notify.sms", source="auth@a", practice="p1", subject="e1", data={})
    topic = f"{prefix}{NOTIFY_REQUESTS.name}"
    await send(broker.bootstrap, topic, event.model_dump_json().encode(), b"p1:e1")
    return event


def _applied(seen: list[str], count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(seen) >= count

    return check


async def _committed(broker: Broker, group: str, topic: str) -> int | None:
    probe = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group)
    await probe.start()
    try:
        offset: int | None = await probe.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await probe.stop()


async def test_a_state_consumer_commits_at_its_interval_and_when_it_stops(
    broker: Broker, pools: dict[str, asyncpg.Pool]
) -> None:
    """Committing after every batch was a request to the broker per batch (most of them for
    this zone's own events, skipped): a consumer that keeps state commits at most every
    ``kafka_commit_interval_ms``, and what it applied meanwhile when it stops."""
    prefix = f"lazy-{secrets.token_hex(4)}."
    seen: list[str] = []
    consumer = _state_consumer(broker, pools["a"], prefix, seen)
    topic = f"{prefix}{NOTIFY_REQUESTS.name}"
    task = asyncio.create_task(consumer.run())
    try:
        await _event(broker, prefix)
        await wait_for(_applied(seen, 1), timeout=30, what="the first event applied")
        await wait_for(
            lambda: _committed(broker, consumer.group, topic), timeout=10, what="first commit"
        )
        assert await _committed(broker, consumer.group, topic) == 1, "the first batch commits"
        for _ in range(3):
            await _event(broker, prefix)
        await wait_for(_applied(seen, 4), timeout=30, what="three more applied")
        await asyncio.sleep(1.0)  # the loop comes back at least every half second
        assert await _committed(broker, consumer.group, topic) == 1, "not due for a minute"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await _committed(broker, consumer.group, topic) == 4, "committed when it stopped"


async def test_what_was_applied_but_not_committed_is_recognised_when_read_again(
    broker: Broker, pools: dict[str, asyncpg.Pool]
) -> None:
    """A crash between the interval's commits: the next consumer reads those events again,
    and the inbox turns them into duplicates: no effect twice, none lost."""
    prefix = f"replay-{secrets.token_hex(4)}."
    seen: list[str] = []
    first = _state_consumer(broker, pools["a"], prefix, seen)
    task = asyncio.create_task(first.run())
    try:
        sent = [await _event(broker, prefix)]
        await wait_for(_applied(seen, 1), timeout=30, what="the first event applied")
        sent += [await _event(broker, prefix) for _ in range(2)]
        await wait_for(_applied(seen, 3), timeout=30, what="two more applied")
        first._uncommitted.clear()  # as a crash: what it applied since is not committed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    topic = f"{prefix}{NOTIFY_REQUESTS.name}"
    assert await _committed(broker, first.group, topic) == 1

    again = _state_consumer(broker, pools["a"], prefix, seen)
    task = asyncio.create_task(again.run())
    try:
        await wait_for(
            lambda: _committed(broker, again.group, topic), timeout=30, what="read again"
        )

        async def read_to_the_end() -> bool:
            return await _committed(broker, again.group, topic) == 3

        await wait_for(read_to_the_end, timeout=30, what="read to the end again")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert seen == [str(e.id) for e in sent], "each applied once, in order"
    count = await pools["a"].fetchval("SELECT count(*) FROM inbox WHERE consumer = 'lazy'")
    assert count == 3


async def test_a_consumer_fetches_with_its_minimum_bytes(
    broker: Broker, pools: dict[str, asyncpg.Pool]
) -> None:
    """``kafka_fetch_min_bytes`` reaches the fetches the consumer sends (fewer, larger fetches
    under load: docs/performance.md), and the consumer still applies what it reads."""
    prefix = f"minbytes-{secrets.token_hex(4)}."
    seen: list[str] = []
    consumer = _state_consumer(
        broker, pools["a"], prefix, seen, kafka_fetch_min_bytes=65_536, kafka_fetch_max_wait_ms=200
    )
    task = asyncio.create_task(consumer.run())
    try:
        await _event(broker, prefix)
        await wait_for(_applied(seen, 1), timeout=30, what="the event applied")
        assert consumer._consumer is not None
        assert consumer._consumer._fetcher._fetch_min_bytes == 65_536
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
