"""The Kafka bus on aiokafka: topic creation at start, a producer that survives broker
outages (started lazily, restarted after failures), and a readiness probe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, TypeAlias

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from shared.bus_tags import BusTags
from shared.kafka_security import client_options
from shared.settings import Settings
from shared.topics import ALL, Topic, new_topics

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings, topics: tuple[Topic, ...] = ALL) -> None:
    """Create the topics that do not exist yet, with their configured partitions and policy."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in new_topics(settings, topics) if t.name not in existing]
        if missing:
            # Another process may win the race to create a topic: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


#: Refusals that concern one record, not the producer or the cluster: sending it again fails
#: again, so the relay moves the row aside (``outbox_dead``) and the events after it flow.
#: Anything else (broker down, timeouts, a producer-wide refusal) is retried: no row is lost.
REFUSED_FOR_GOOD: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    InvalidTopicError,
    CorruptRecordException,
    PolicyViolationError,
)
#: Per message of a batch: ``None`` once the broker has it, else why it was refused for good.
Outcome: TypeAlias = KafkaError | None


def producer_options(settings: Settings) -> dict[str, Any]:
    """Every producer's arguments. ``acks="all"``: a send counts only once every in-sync replica
    has it (with the topics' ``min.insync.replicas``, DESIGN §3: no event lost)."""
    return {
        **client_options(settings),
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotent_producer,
        "linger_ms": 2,
        "max_request_size": settings.kafka_max_request_bytes,
        "request_timeout_ms": int(settings.kafka_request_timeout_seconds * 1000),
    }


class Bus:
    """A producer that is (re)started on demand, so a service starts and serves with the
    broker down, and resumes publishing when it returns. Every record it sends carries the
    application's tag (:mod:`shared.bus_tags`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tags = BusTags.from_settings(settings)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._checked_at = float("-inf")

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                await ensure_topics(self.settings)
                producer = AIOKafkaProducer(**producer_options(self.settings))
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def send_batch(self, messages: list[tuple[str, str, bytes]]) -> list[Outcome]:
        """Send ``(topic, key, value)`` messages and wait for the broker's answer to each.

        Returns one outcome per message: ``None`` when the broker has it, the error when it was
        refused for good (:data:`REFUSED_FOR_GOOD`). Any other error is raised once every sent
        message is answered, and the caller sends the batch again (at-least-once)."""
        producer = await self.producer()
        await self._check_topics(producer, {topic for topic, _, _ in messages})
        outcomes: list[Outcome] = [None] * len(messages)
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        retry: BaseException | None = None
        for i, (topic, key, value) in enumerate(messages):
            encoded = key.encode()
            headers = self.tags.headers(topic, encoded, value)
            try:
                pending.append(
                    (i, await producer.send(topic, value=value, key=encoded, headers=headers))
                )
            except REFUSED_FOR_GOOD as exc:
                outcomes[i] = exc
            except KafkaError as exc:
                retry = exc
                break
        answers = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        for (i, _), answer in zip(pending, answers, strict=True):
            if isinstance(answer, REFUSED_FOR_GOOD):
                outcomes[i] = answer
            elif isinstance(answer, BaseException):
                retry = retry or answer
        if retry is not None:
            raise retry
        return outcomes

    async def _check_topics(self, producer: AIOKafkaProducer, topics: set[str]) -> None:
        """At most once a second, ask the broker whether it still has the topics: a restarted
        in-memory dev broker loses them, and a produce request would auto-create them wrongly."""
        now = time.monotonic()
        if now - self._checked_at < 1.0:
            return
        cluster = await asyncio.wait_for(
            producer.client.fetch_all_metadata(), self.settings.kafka_request_timeout_seconds
        )
        if not topics <= cluster.topics():
            await ensure_topics(self.settings)
        self._checked_at = now

    async def reset(self) -> None:
        """Drop the producer after a failure; the next send starts a fresh one."""
        async with self._lock:
            producer, self._producer = self._producer, None
            self._checked_at = float("-inf")
        if producer is not None:
            try:
                await producer.stop()
            except KafkaError:
                log.debug("producer stop failed", exc_info=True)

    async def ready(self, wait: float = 2.0) -> bool:
        """True when the broker answers a metadata request within ``wait`` seconds."""
        try:
            producer = await asyncio.wait_for(self.producer(), wait)
            await asyncio.wait_for(producer.client.fetch_all_metadata(), wait)
            return True
        except (TimeoutError, KafkaError, OSError):
            return False

    async def close(self) -> None:
        await self.reset()
