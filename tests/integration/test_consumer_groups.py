"""A consumer that shares its group with another zone's (the notifier's requests: each
received once) may be assigned no partition at all; it has nothing to read, so it is caught
up, not catching up for ever (found by the convergence checks: a restarted notifier said
"catching up" for minutes). Real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.dev.infra import Broker, Postgres
from shared.consumer import EventConsumer
from shared.db import Migrations, ensure_database, migrate
from shared.events import Envelope
from shared.metrics import Metrics
from shared.settings import Settings, TopicSettings
from shared.topics import NOTIFY_REQUESTS
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
