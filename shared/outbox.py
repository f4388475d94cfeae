"""The transactional outbox and its relay.

Writers call :func:`publish` inside the transaction of their state change. The relay publishes
rows in commit order and deletes them once the broker has acknowledged them (at-least-once; the
inbox makes the effect exactly-once). It wakes on ``NOTIFY outbox`` and sweeps periodically, so
a missed notification only delays an event by one sweep. One relay per database holds an
advisory lock, which keeps the publication order of one database intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from shared.bus import Bus
from shared.db import init_connection
from shared.events import Envelope
from shared.metrics import Metrics
from shared.periodic import woken
from shared.settings import Settings
from shared.topics import Topic

log = logging.getLogger(__name__)
_RELAY_LOCK = 7_510_420


OutboxRow = tuple[uuid.UUID, str, str, dict[str, Any]]
INSERT = (
    "WITH queued AS (INSERT INTO outbox (id, topic, key, payload) VALUES ($1, $2, $3, $4) "
    "RETURNING 1) SELECT pg_notify('outbox', '') FROM queued"
)


def queued_cte(select: str) -> str:
    """SQL: the CTE ``queued`` of a larger statement, queuing the outbox rows that ``select``
    yields (columns id, topic, key, payload) and waking the relay at commit."""
    return (
        f"queued AS (INSERT INTO outbox (id, topic, key, payload) {select} "
        "RETURNING pg_notify('outbox', ''))"
    )


def rows_json(rows: list[OutboxRow]) -> list[dict[str, Any]]:
    """``rows`` as a JSON array parameter for :data:`FROM_JSON`."""
    return [
        {"id": str(event_id), "topic": topic, "key": key, "payload": payload}
        for event_id, topic, key, payload in rows
    ]


#: A ``select`` for :func:`queued_cte`: the rows of the JSON array parameter ``{param}``
#: (:func:`rows_json`), in their order, when ``{when}`` holds.
FROM_JSON = """SELECT (r.x->>'id')::uuid, r.x->>'topic', r.x->>'key', r.x->'payload'
               FROM jsonb_array_elements({param}::jsonb) WITH ORDINALITY AS r(x, n)
               WHERE {when} ORDER BY r.n"""


def outbox_row(settings: Settings, topic: Topic, event: Envelope) -> OutboxRow:
    """``(id, topic, key, payload)`` of an outbox row, for writers that insert it as part of a
    larger statement."""
    return event.id, settings.topic(topic.name), event.key, event.model_dump(mode="json")


async def publish(
    conn: asyncpg.Connection, settings: Settings, topic: Topic, event: Envelope
) -> None:
    """Queue ``event`` for ``topic`` in the caller's transaction (the relay wakes at commit)."""
    await conn.execute(INSERT, *outbox_row(settings, topic, event))


@dataclass(frozen=True)
class EventWriter:
    """A service's events, stamped with the service as their source (``settings``) and queued
    in the caller's transaction (the outbox), or handed as outbox rows to a statement that
    inserts them with its own write."""

    settings: Settings

    def event(
        self,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
        **envelope: Any,
    ) -> Envelope:
        return Envelope(
            type=type_,
            source=self.settings.source,
            time=now,
            practice=practice,
            subject=subject,
            data=data,
            **envelope,
        )

    async def emit(
        self,
        conn: asyncpg.Connection,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
        **envelope: Any,
    ) -> Envelope:
        event = self.event(type_, practice, subject, data, now, **envelope)
        await publish(conn, self.settings, topic, event)
        return event

    def outgoing(
        self,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
    ) -> tuple[Topic, Envelope]:
        """An event for ``topic`` that a later statement queues."""
        return topic, self.event(type_, practice, subject, data, now)

    def row(self, topic: Topic, event: Envelope) -> OutboxRow:
        """The outbox row of ``event``, for a statement that inserts it with its own write."""
        return outbox_row(self.settings, topic, event)

    async def queue(self, conn: asyncpg.Connection, topic: Topic, event: Envelope) -> None:
        """Queue an event already made, in the caller's transaction."""
        await publish(conn, self.settings, topic, event)


#: The database going away, as asyncpg reports it. ``InternalClientError`` included: a pool
#: connection caught by a server shutdown mid-operation says "cannot switch to state …"
#: (seen in the PostgreSQL fault test), which must not end the relay task.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


class RelayLockLost(Exception):
    """The connection holding the relay lock is gone, so another relay may hold the lock now."""


_BATCH = "SELECT seq, id, topic, key, payload FROM outbox ORDER BY seq LIMIT $1"
#: The next batch, read on the relay's lock connection with whether that session still holds
#: the lock: one round trip (a row with ``holds`` and no ``seq`` when the outbox is empty).
_LOCKED_BATCH = """
    SELECT h.holds, o.seq, o.id, o.topic, o.key, o.payload
    FROM (SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                         AND pid = pg_backend_pid() AND classid = 0 AND objid = $1
                         AND objsubid = 1) AS holds) h
    LEFT JOIN LATERAL (SELECT seq, id, topic, key, payload FROM outbox
                       ORDER BY seq LIMIT $2) o ON h.holds
    ORDER BY o.seq"""
_DELETE_SENT = "DELETE FROM outbox WHERE seq = ANY($1::bigint[])"
_MOVE_ASIDE = """
    WITH dead AS (DELETE FROM outbox WHERE seq = $1
                  RETURNING seq, id, topic, key, payload, created_at)
    INSERT INTO outbox_dead (seq, id, topic, key, payload, created_at, reason)
    SELECT seq, id, topic, key, payload, created_at, $2 FROM dead
    ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, failed_at = now()"""


#: The relay's first wait after a failure, doubling up to the second while it keeps failing.
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 10.0


class OutboxRelay:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, bus: Bus, metrics: Metrics) -> None:
        self.settings = settings
        self.pool = pool
        self.bus = bus
        self.metrics = metrics
        #: The wait after the next failure; back to the first once a drain has gone through
        #: (a fault's backoff must not carry over to the next fault).
        self._backoff = RETRY_FIRST_SECONDS
        #: Failures so far, and the wait that followed the latest.
        self.failures = 0
        self.last_wait: float | None = None
        self._wake = asyncio.Event()
        self._lock_conn: asyncpg.Connection | None = None
        #: Consumers that had dead letters: their gauge goes back to 0 once the rows are gone.
        self._dead_letter_consumers: set[str] = set()

    async def backlog(self) -> int:
        """Count what waits in this database (the outbox) and what waits for an operator
        (dead outbox rows, consumers' dead letters) into their gauges; the outbox count."""
        count: int = await self.pool.fetchval("SELECT count(*) FROM outbox")
        self.metrics.outbox_backlog.labels(**self.metrics.base()).set(count)
        dead: int = await self.pool.fetchval("SELECT count(*) FROM outbox_dead")
        self.metrics.outbox_dead_rows.labels(**self.metrics.base()).set(dead)
        letters = {
            r["consumer"]: r["n"]
            for r in await self.pool.fetch(
                "SELECT consumer, count(*) AS n FROM dead_letters GROUP BY consumer"
            )
        }
        for consumer in self._dead_letter_consumers | letters.keys():
            self.metrics.dead_letter_rows.labels(**self.metrics.base(), consumer=consumer).set(
                letters.get(consumer, 0)
            )
        self._dead_letter_consumers |= letters.keys()
        return count

    async def drain(self) -> int:
        """Publish everything queued; returns how many rows went out. Each batch is read
        together with whether the relay still holds its lock (:class:`RelayLockLost` if
        not); a batch smaller than ``outbox_batch`` was the last (rows committed meanwhile
        wake the relay again)."""
        sent = 0
        while True:
            rows = await self._next_batch()
            if rows:
                sent += await self._publish(rows)
            if len(rows) < self.settings.outbox_batch:
                return sent

    async def _next_batch(self) -> list[asyncpg.Record]:
        conn = self._lock_conn
        if conn is None:  # draining by hand (no relay loop): nothing to guard
            rows: list[asyncpg.Record] = await self.pool.fetch(_BATCH, self.settings.outbox_batch)
            return rows
        # A session lock lives as long as its connection: when that dies (a restarted or
        # failed-over database, a killed backend, a pooler) another relay may take the lock.
        try:
            found = await conn.fetch(_LOCKED_BATCH, _RELAY_LOCK, self.settings.outbox_batch)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise RelayLockLost(f"relay lock connection failed: {exc!r}") from exc
        if not found or not found[0]["holds"]:
            raise RelayLockLost("relay lock no longer held")
        return [r for r in found if r["seq"] is not None]

    async def _publish(self, rows: list[asyncpg.Record]) -> int:
        """Send ``rows``, then delete what went out and set aside what the broker refused
        for good; how many went out."""
        outcomes = await self.bus.send_batch(
            [(r["topic"], r["key"], _encode(r["payload"])) for r in rows]
        )
        published = [r["seq"] for r, refused in zip(rows, outcomes, strict=True) if not refused]
        if len(published) == len(rows):
            await self.pool.execute(_DELETE_SENT, published)
        else:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(_DELETE_SENT, published)
                for row, refused in zip(rows, outcomes, strict=True):
                    if refused is not None:
                        await self._move_aside(conn, row, refused)
        self.metrics.outbox_published.labels(**self.metrics.base()).inc(len(published))
        return len(published)

    async def _move_aside(
        self, conn: asyncpg.Connection, row: asyncpg.Record, refused: KafkaError
    ) -> None:
        """Keep a row the broker refused for good in ``outbox_dead``, with the reason."""
        reason = type(refused).__name__
        # aiokafka's messages name sizes and topics, never the payload.
        await conn.execute(_MOVE_ASIDE, row["seq"], f"{reason}: {refused}"[:1000])
        self.metrics.outbox_dead.labels(**self.metrics.base(), reason=reason).inc()
        log.error(
            "outbox row %s on %s refused for good, moved aside: %s",
            row["seq"],
            row["topic"],
            reason,
            extra={
                "seq": row["seq"],
                "topic": row["topic"],
                "event_id": str(row["id"]),
                "error": reason,
            },
        )

    async def run(self) -> None:
        """Run until cancelled: hold the relay lock, listen, drain, back off on failures
        (from :data:`RETRY_FIRST_SECONDS` again once a drain has gone through: ``_serve``
        never returns, so a backoff reset only when it did grew over the process's life, and
        after one fault a later short one held the zone's events back for 10 s)."""
        while True:
            try:
                await self._serve()
            except asyncio.CancelledError:
                raise
            except (*_TRANSIENT, KafkaError, TimeoutError, RelayLockLost) as exc:
                backoff = self._backoff
                self.failures += 1
                self.last_wait = backoff
                log.warning(
                    "outbox relay failed, retrying in %.1fs: %r",
                    backoff,
                    exc,
                    extra={
                        "task": "outbox-relay",
                        "error": type(exc).__name__,
                        "retry_in": backoff,
                    },
                )
                with contextlib.suppress(*_TRANSIENT):
                    await self.backlog()  # keep the gauge true while the broker is away
                await self.bus.reset()
                await asyncio.sleep(backoff)
                self._backoff = min(backoff * 2, RETRY_MAX_SECONDS)

    async def _serve(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.settings.database_url)
        await init_connection(conn)  # it reads the batches (jsonb payloads) too
        active = self.metrics.outbox_relay_active.labels(**self.metrics.base())
        try:
            # Session-level lock: one relay per database, released when the connection closes.
            await conn.execute("SELECT pg_advisory_lock($1)", _RELAY_LOCK)
            self._lock_conn = conn
            active.set(1)
            conn.add_termination_listener(self._notified)
            await conn.add_listener("outbox", self._notified)
            gauged = drained = float("-inf")
            while True:
                # Paced (``outbox_pace_seconds``) after a drain that published: rows committed
                # meanwhile join this drain. A sweep that found nothing does not count.
                pause = drained + self.settings.outbox_pace_seconds - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                started = time.monotonic()
                # Cleared before the drain: a row committed while it runs wakes the next one.
                self._wake.clear()
                if await self.drain():
                    drained = started
                self._backoff = RETRY_FIRST_SECONDS
                if time.monotonic() - gauged >= self.settings.outbox_gauge_seconds:
                    await self.backlog()
                    gauged = time.monotonic()
                await woken(self._wake, self.settings.outbox_sweep_seconds)
        finally:
            self._lock_conn = None
            active.set(0)
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _notified(self, *_: object) -> None:
        self._wake.set()


def _encode(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
