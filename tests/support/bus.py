"""The bus in tests. Reading: every event of a topic from the beginning, with the partitions
assigned directly (``read_topic``: joining a consumer group takes seconds on the embedded
broker), or through a consumer group of its own (``read_events``). Writing: records as
Tweestap's own writers send them, with the application's tag under the suite's sealing keyring
(:mod:`shared.bus_tags`), or untagged as a host system or an attacker would (``produce``)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.dev.infra import Broker
from shared.bus_tags import BusTags
from shared.events import Envelope
from shared.sealing import Keyring
from tests.support.cluster import SEALING, Cluster, Zone


def tags(sealing_keys: str | None = None) -> BusTags:
    """The tags of Tweestap's writers (the suite's keyring unless another is given)."""
    return BusTags(Keyring.parse(sealing_keys or SEALING))


def genuine(topic: str, key: bytes | None, value: bytes) -> list[tuple[str, bytes]]:
    """The headers a Tweestap writer gives this record."""
    return tags().headers(topic, key, value)


async def send(
    bootstrap: str,
    topic: str,
    value: bytes,
    key: bytes,
    tagged: bool = True,
    partition: int | None = None,
) -> None:
    """One record on ``topic`` (the full name), tagged as Tweestap's own or not at all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            value,
            key=key,
            partition=partition,
            headers=genuine(topic, key, value) if tagged else None,
        )
    finally:
        await producer.stop()


async def produce(bootstrap: str, topic: str, event: Envelope) -> None:
    """``event`` on ``topic`` (the full name) as a host system or an attacker writes it:
    untagged, keyed by the event's key."""
    await send(bootstrap, topic, event.model_dump_json().encode(), event.key.encode(), False)


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 20,
) -> list[dict[str, Any]]:
    """Every event on ``topic`` from the beginning, read until ``until`` holds (or timeout).
    Partitions are assigned directly, without a consumer group: no group join to wait for."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            await consumer.topics()  # refreshes the metadata
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await asyncio.sleep(0.1)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while time.monotonic() < deadline and not until(found):
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                found.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return found


async def read_events(
    broker: Broker, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20
) -> list[dict[str, Any]]:
    """Every event on ``topic`` from the beginning, read until ``until`` holds (or timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(events):
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                events.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return events


async def events(
    cluster: Cluster, zone: Zone, topic: str, wanted: Any, count: int = 1
) -> list[dict[str, Any]]:
    """Events on ``topic`` for which ``wanted(event)`` holds, once there are ``count``."""
    found = await read_topic(
        cluster.broker.bootstrap,
        zone.settings.topic(topic),
        lambda evs: sum(1 for e in evs if wanted(e)) >= count,
    )
    chosen = [e for e in found if wanted(e)]
    assert len(chosen) >= count, f"{len(chosen)} of {count} events on {topic}"
    return chosen


def of_type(type_: str, **data: Any) -> Any:
    def wanted(event: dict[str, Any]) -> bool:
        return bool(
            event["type"] == type_ and all(event["data"].get(k) == v for k, v in data.items())
        )

    return wanted


async def applied(pool: asyncpg.Pool, ids: Iterable[uuid.UUID | str]) -> bool:
    """Whether each event of ``ids`` is in the database's inbox (a consumer there applied it,
    or skipped it as applied already)."""
    wanted = {str(i) for i in ids}
    count = await pool.fetchval(
        "SELECT count(DISTINCT event_id) FROM inbox WHERE event_id = ANY($1::uuid[])",
        list(wanted),
    )
    return bool(count == len(wanted))
