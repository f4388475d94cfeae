"""Idempotent Kafka consumers: each event's effect and its id in the inbox commit together.

Offsets are committed only after the database transaction, so a crash replays events and the
inbox turns the replay into a no-op. A message that is not a valid event goes to the
``dead_letters`` table with the reason and the consumer keeps going; a failure of the database
or the broker stops the batch and the consumer restarts from the last committed offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from shared.bus import ensure_topics
from shared.events import Envelope
from shared.kafka_security import client_options
from shared.metrics import Metrics
from shared.outbox import publish
from shared.settings import Settings
from shared.topics import Topic

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Envelope], Awaitable[None]]


class InvalidEvent(Exception):
    """Raised by a handler for an event it can never apply; the event is dead-lettered."""


class EventConsumer:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        metrics: Metrics,
        name: str,
        handlers: Mapping[Topic, Handler],
        accept: Callable[[Topic, Envelope], bool] | None = None,
        group: str | None = None,
        dead_letter_topic: Topic | None = None,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.metrics = metrics
        self.name = name
        self.group = group or settings.consumer_group(name)
        #: Besides the ``dead_letters`` table, dead letters are announced on this topic.
        self.dead_letter_topic = dead_letter_topic
        #: Called after a transaction that applied an event has committed (e.g. to wake a
        #: worker that must see the new rows).
        self.on_committed = on_committed
        self.handlers = {settings.topic(t.name): h for t, h in handlers.items()}
        self._topics_by_name = {settings.topic(t.name): t for t in handlers}
        #: Cheap filter before any database work: events this consumer will never apply.
        self.accept = accept
        self.topics = tuple(handlers)
        #: Set once the consumer has been assigned partitions (tests and readiness wait on it).
        self.assigned = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("consumer %s failed, retrying in %.1fs: %r", self.name, backoff, exc)
                self.assigned.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _consume(self) -> None:
        await ensure_topics(self.settings, self.topics)
        consumer = AIOKafkaConsumer(
            *self.handlers,
            **client_options(self.settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5_000,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                if consumer.assignment():
                    self.assigned.set()
                for tp, records in batches.items():
                    for record in records:
                        await self._process(record)
                    await consumer.commit({tp: records[-1].offset + 1})
                await self._report_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _process(self, record: ConsumerRecord) -> None:
        topic = record.topic
        try:
            event = Envelope.model_validate_json(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, f"not an event envelope: {_summary(exc)}")
            return
        if self.accept is not None and not self.accept(self._topics_by_name[topic], event):
            self.metrics.events_consumed.labels(
                **self.metrics.base(), topic=topic, outcome="skipped"
            ).inc()
            return
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    fresh = await conn.fetchval(
                        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) "
                        "ON CONFLICT DO NOTHING RETURNING true",
                        self.name,
                        event.id,
                    )
                    if fresh:
                        await self.handlers[topic](conn, event)
            except (ValidationError, InvalidEvent) as exc:
                reason = _summary(exc) if isinstance(exc, ValidationError) else str(exc)
                await self._dead_letter(record, f"{event.type}: {reason}")
                return
        if fresh and self.on_committed is not None:
            self.on_committed()
        outcome = "applied" if fresh else "duplicate"
        self.metrics.events_consumed.labels(
            **self.metrics.base(), topic=topic, outcome=outcome
        ).inc()

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        log.warning("dead letter from %s@%s: %s", record.topic, record.offset, reason)
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                'INSERT INTO dead_letters (consumer, topic, partition, "offset", reason, raw) '
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
                self.name,
                record.topic,
                record.partition,
                record.offset,
                reason[:1000],
                record.value,
            )
            if fresh and self.dead_letter_topic is not None:
                await publish(
                    conn,
                    self.settings,
                    self.dead_letter_topic,
                    Envelope(
                        type="dead_letter",
                        source=self.settings.source,
                        practice="*",
                        subject=f"{record.topic}:{record.partition}:{record.offset}",
                        data={
                            "consumer": self.name,
                            "topic": record.topic,
                            "partition": record.partition,
                            "offset": record.offset,
                            "reason": reason[:1000],
                        },
                    ),
                )
        self.metrics.events_consumed.labels(
            **self.metrics.base(), topic=record.topic, outcome="dead_letter"
        ).inc()

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        lag: dict[str, int] = {}
        for tp in consumer.assignment():
            assert isinstance(tp, TopicPartition)
            high = consumer.highwater(tp)
            if high is None:
                continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - await consumer.position(tp))
        for topic, value in lag.items():
            self.metrics.consumer_lag.labels(**self.metrics.base(), topic=topic).set(value)


def _summary(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
    return str(exc)
