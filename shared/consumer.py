"""Idempotent Kafka consumers: each event's effect and its id in the inbox commit together.

Offsets are committed only after the database transaction, so a crash replays events and the
inbox turns the replay into a no-op. One bad record never stops a consumer: a record that is
not a valid event, or that its handler refuses (validation, a value PostgreSQL refuses), goes to
the ``dead_letters`` table with the reason at once; any other handler failure is retried
``consumer_attempts`` times with backoff, then dead-lettered too, and the consumer moves on.
A failure of the database or the broker is never the record's fault: after a database
failure the consumer stays in its group, seeks back to the first record not applied and tries
again after a backoff (rejoining the group costs seconds); after a broker failure it starts
again (without limit, with backoff). A database failure makes it not ready meanwhile; the
broker's state is readiness's own check.

A consumer that starts on a database that has consumed before (its inbox is not empty or the
``consumed`` table names it, written at its first commit; failing both, its group has
committed offsets at the first assignment), or whose database failed, is *behind*: this
zone's state may lack events the bus holds (the other zone's revocations, password changes)
until every assigned partition has been read to its end; so is one whose process did not run
for ``stall_seconds`` (stopped), from its first moment running again. Readiness says no
meanwhile, and auth refuses to decide on sessions (503 ``catching-up``), for at most
``catch_up_max_seconds``: past that the zone serves with what it has and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC
from typing import Any, get_args

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from shared import bounds, logs
from shared.bus import ensure_topics
from shared.bus_tags import BusTags
from shared.events import Envelope, utcnow
from shared.events import InvalidEvent as InvalidEvent  # re-exported: handlers raise it
from shared.kafka_security import client_options
from shared.metrics import Metrics
from shared.outbox import publish
from shared.settings import Settings, Zone
from shared.topics import Topic

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Envelope], Awaitable[None]]
#: After the database or the broker failed: the first wait before the consumer starts again,
#: doubling up to the second.
RESTART_BACKOFF_SECONDS = 0.2
RESTART_BACKOFF_MAX_SECONDS = 10.0
#: How often a consumer that is caught up reads its lag (every assigned partition's position
#: against its highwater, into the gauge and readiness): at every batch it cost auth's event
#: loop about a twentieth of a login's CPU (48 partitions). While behind, at every batch.
LAG_REPORT_SECONDS = 0.5
#: How long a consumer that stops, or loses partitions to a rebalance, tries to commit what it
#: applied since its last commit (not committed: read again, and recognised by the inbox).
STOP_COMMIT_SECONDS = 2.0


class DatabaseUnavailable(Exception):
    """No connection could be had (refused, shutting down, not accepting connections): never
    the record's fault, whatever PostgreSQL's error class."""


class Fault(enum.Enum):
    """Whose fault a handler's failure is, which decides what the consumer does with it."""

    #: The database or the broker: the record is fine; retry it without limit.
    INFRASTRUCTURE = "infrastructure"
    #: The record itself can never be applied: dead-letter it at once.
    RECORD = "record"
    #: Unknown: retry a bounded number of times, then dead-letter it.
    UNKNOWN = "unknown"


#: Failures of the database connection or the broker, or a transient state of the database
#: (shutting down, out of connections or disk, a serialisation conflict).
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    DatabaseUnavailable,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,
)
#: Failures that say the record is bad: refused by validation, by a handler, or by PostgreSQL
#: as a value (NUL in text, out of range) or against a constraint.
RECORD_ERRORS: tuple[type[BaseException], ...] = (
    ValidationError,
    InvalidEvent,
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    UnicodeError,
)


class DatabaseFailed(Exception):
    """The database failed while a batch was applied: where each partition must resume."""

    def __init__(self, cause: BaseException, resume: dict[TopicPartition, int]) -> None:
        super().__init__(repr(cause))
        self.cause = cause
        self.resume = resume


def classify(exc: BaseException) -> Fault:
    if isinstance(exc, INFRASTRUCTURE_ERRORS):
        return Fault.INFRASTRUCTURE
    if isinstance(exc, RECORD_ERRORS):
        return Fault.RECORD
    return Fault.UNKNOWN


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
        keeps_state: bool = True,
    ) -> None:
        """``keeps_state``: whether the service decides on what this consumer applies (a
        work queue, such as the notifier's requests in a group shared across zones, does
        not: it is never *behind*, only its lag and its failures count for readiness)."""
        self.keeps_state = keeps_state
        self.settings = settings
        self.pool = pool
        self.metrics = metrics
        self.name = name
        #: Which records are Tweestap's own (:mod:`shared.bus_tags`), and what an event may
        #: claim (:mod:`shared.bounds`).
        self.tags = BusTags.from_settings(settings)
        self.bounds = bounds.EventBounds.from_settings(settings)
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
        #: The partitions of the group's latest assignment to this consumer; ``joined``: it has
        #: had one since it (re)started, possibly none (a group shared with another zone's
        #: consumer may have more members than partitions).
        self.partitions: frozenset[TopicPartition] = frozenset()
        self.joined = False
        #: Why the consumer is not consuming right now (database or broker away), for readiness.
        self._trouble: str | None = None
        #: Messages behind the end of the assigned partitions, as last read (:meth:`_lag_due`).
        self._lag = 0
        self._lag_read_at = float("-inf")
        self._backoff = RESTART_BACKOFF_SECONDS
        #: Since when (monotonic) this zone's state may lack events the bus holds: set at the
        #: start on a database that has consumed before, and when the database fails; cleared
        #: once the consumer has read to the end of its partitions. None: caught up.
        self._behind_since: float | None = None
        #: How often it fell behind: a check of the ends started before the latest fall
        #: does not count (:meth:`_at_the_ends`).
        self._falls = 0
        self._overdue_said = False
        self._recalled = False
        self._offsets_recalled = False
        #: When (monotonic) :meth:`watch` last noted that the process ran; None: not watched.
        self._ran_at: float | None = None
        #: Whether ``consumed`` names this consumer (written once, after its first commit).
        self._marked = False
        #: Offsets applied but not committed yet, and when (monotonic) offsets were last
        #: committed (:meth:`_commit`).
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = float("-inf")
        self._consumer: AIOKafkaConsumer | None = None
        self._gauge = metrics.catching_up.labels(**metrics.base(), consumer=name)
        self._gauge.set(0)

    @property
    def behind(self) -> bool:
        """Whether a service should refuse to decide on this zone's state (auth answers 503
        and clients use the other zone): catching up, for at most ``catch_up_max_seconds``."""
        self._check_stall()
        if self._behind_since is None:
            return False
        waited = time.monotonic() - self._behind_since
        if waited <= self.settings.catch_up_max_seconds:
            return True
        if not self._overdue_said:
            self._overdue_said = True
            log.warning(
                "consumer %s has not caught up after %.0f s (broker away?): serving with the "
                "state this zone has, which may lack events on the bus",
                self.name,
                waited,
            )
        return False

    async def watch(self) -> None:
        """Notes, twice per ``stall_seconds``, that this process runs: a longer gap means it
        was stopped (or its loop held) and may have missed events (:meth:`_check_stall`)."""
        interval = self.settings.stall_seconds / 2
        while True:
            self._check_stall()
            self._ran_at = time.monotonic()
            await asyncio.sleep(interval)

    def _check_stall(self) -> None:
        """Behind, from its first moment, if the process has not run for ``stall_seconds``
        (the watch's last note is older), until read to the end again."""
        if self._ran_at is None:
            return
        stalled = time.monotonic() - self._ran_at
        if stalled > self.settings.stall_seconds:
            self._ran_at = time.monotonic()
            log.warning(
                "consumer %s: the process did not run for %.1f s (stopped?): catching up",
                self.name,
                stalled,
            )
            self._fall_behind()

    def _fall_behind(self) -> None:
        if not self.keeps_state:
            return
        self._behind_since = time.monotonic()
        self._falls += 1
        self._overdue_said = False
        self._gauge.set(1)

    def _caught_up(self) -> None:
        if self._behind_since is not None:
            log.info(
                "consumer %s caught up after %.1f s",
                self.name,
                time.monotonic() - self._behind_since,
            )
        self._behind_since = None
        self._gauge.set(0)

    async def recall(self) -> None:
        """At the start: behind if this database has consumed before (its state may predate
        events on the bus). A service awaits it before serving; ``run`` does it otherwise."""
        if self._recalled:
            return
        try:
            used = await self.pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM consumed WHERE consumer = $1) "
                "OR EXISTS (SELECT 1 FROM inbox WHERE consumer = $1)",
                self.name,
            )
        except asyncpg.PostgresError as exc:
            raise DatabaseUnavailable(f"inbox not readable: {exc!r}") from exc
        if used:
            self._fall_behind()
            self._marked = True
        self._recalled = True

    def not_ready(self) -> str | None:
        """Why readiness should say no (a failure being retried, or lag past the bound)."""
        if self._trouble is not None:
            return self._trouble
        if self.behind:
            return f"catching up ({self._lag} messages behind)"
        if self._lag > self.settings.consumer_max_lag:
            return f"lag {self._lag} > {self.settings.consumer_max_lag}"
        return None

    async def run(self) -> None:
        watch = asyncio.create_task(self.watch())
        try:
            while True:
                try:
                    await self.recall()
                    await self._consume()
                except asyncio.CancelledError:
                    raise
                except INFRASTRUCTURE_ERRORS as exc:
                    # The broker (or the database at the start): the broker's state is
                    # readiness's own check, so only a database failure names trouble here.
                    if isinstance(exc, DatabaseUnavailable):
                        self._trouble = f"retrying after {type(exc).__name__}"
                    self.assigned.clear()
                    self.joined = False
                    await self._back_off(exc)
        finally:
            watch.cancel()

    async def _back_off(self, exc: BaseException) -> None:
        backoff = self._backoff
        log.warning(
            "consumer %s failed, retrying in %.1fs: %r",
            self.name,
            backoff,
            exc,
            extra={"consumer": self.name, "error": type(exc).__name__, "retry_in": backoff},
        )
        await asyncio.sleep(backoff)
        self._backoff = min(backoff * 2, RESTART_BACKOFF_MAX_SECONDS)

    async def _consume(self) -> None:
        await ensure_topics(self.settings, self.topics)
        consumer = AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5_000,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            fetch_min_bytes=self.settings.kafka_fetch_min_bytes,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
        )
        consumer.subscribe(list(self.handlers), listener=_Assignments(self))
        self._uncommitted = {}
        self._consumer = consumer
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                if consumer.assignment():
                    self.assigned.set()
                    await self._recall_offsets(consumer)
                try:
                    await self._apply_batches(consumer, batches)
                except DatabaseFailed as failed:
                    # Stay in the group (rejoining costs seconds): the records not applied
                    # are fetched again after the backoff.
                    for tp, offset in failed.resume.items():
                        consumer.seek(tp, offset)
                    self._trouble = f"retrying after {type(failed.cause).__name__}"
                    await self._back_off(failed.cause)
                    continue
                if self._lag_due(time.monotonic()):
                    await self._report_lag(consumer)
                self._trouble = None
                self._backoff = RESTART_BACKOFF_SECONDS
        except asyncio.CancelledError:
            # Stopping: what was applied since the last commit, committed if the broker answers
            # soon. Not after a broker failure, where it would wait for the broker and hold
            # back the restart: what is read again then, the inbox recognises.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._commit(consumer, due=True), STOP_COMMIT_SECONDS)
            raise
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _recall_offsets(self, consumer: AIOKafkaConsumer) -> None:
        """Once, at the first assignment: behind if the group has committed offsets (it has
        consumed before) although the inbox said nothing (rows past their retention)."""
        if self._offsets_recalled:
            return
        self._offsets_recalled = True
        if self._behind_since is not None:
            return
        for tp in consumer.assignment():
            if await consumer.committed(tp) is not None:
                self._fall_behind()
                return

    async def _apply_batches(
        self, consumer: AIOKafkaConsumer, batches: Mapping[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        """Apply each partition's records, then commit when due (:meth:`_commit`); on a
        database failure commit what was applied and raise ``DatabaseFailed`` with where each
        partition must resume."""
        pending = list(batches.items())
        # One commit for all partitions (one request to the broker, not one per partition).
        done: dict[TopicPartition, int] = {}
        for index, (tp, records) in enumerate(pending):
            for record in records:
                try:
                    await self._process(record)
                except INFRASTRUCTURE_ERRORS as exc:
                    if isinstance(exc, KafkaError):
                        raise
                    self._uncommitted.update(done)
                    with contextlib.suppress(KafkaError):
                        await self._commit(consumer, due=True)
                    resume = {tp: record.offset}
                    resume.update((later, rs[0].offset) for later, rs in pending[index + 1 :])
                    raise DatabaseFailed(exc, resume) from exc
            if records:
                done[tp] = records[-1].offset + 1
        self._uncommitted.update(done)
        await self._commit(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer, due: bool = False) -> None:
        """Commit the offsets applied since the last commit: at once for a work queue and
        when ``due``, else at most every ``kafka_commit_interval_ms`` (idle too: the loop
        comes back at least every half second). A replay of what was applied but not
        committed is a no-op (the inbox); committing less often only saves a request to the
        broker per batch, most of them for batches of events this zone skips (its own)."""
        if not self._uncommitted:
            return
        interval = self.settings.kafka_commit_interval_ms / 1000
        now = time.monotonic()
        if not due and self.keeps_state and now - self._committed_at < interval:
            return
        assigned = consumer.assignment()
        offsets = {tp: o for tp, o in self._uncommitted.items() if tp in assigned}
        self._uncommitted = {}
        if not offsets:  # taken away since (their next owner reads them again: the inbox)
            return
        try:
            await consumer.commit(offsets)
        except BaseException:
            self._uncommitted = {**offsets, **self._uncommitted}
            raise
        self._committed_at = now
        await self._mark_consumed()

    async def _commit_revoked(self, revoked: frozenset[TopicPartition]) -> None:
        """Before a rebalance takes partitions away: commit what was applied of them, so that
        their next owner (in a group shared across zones, another database) starts after."""
        consumer = self._consumer
        offsets = {tp: o for tp, o in self._uncommitted.items() if tp in revoked}
        if consumer is None or not offsets:
            return
        try:
            await asyncio.wait_for(consumer.commit(offsets), STOP_COMMIT_SECONDS)
        except (KafkaError, TimeoutError) as exc:
            log.warning("consumer %s: offsets not committed at a rebalance: %r", self.name, exc)
            return
        for tp in offsets:
            self._uncommitted.pop(tp, None)

    async def _mark_consumed(self) -> None:
        """Once: this database has consumed as this consumer (what ``recall`` reads)."""
        if self._marked:
            return
        try:
            await self.pool.execute(
                "INSERT INTO consumed (consumer) VALUES ($1) ON CONFLICT DO NOTHING", self.name
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("consumer %s: not marked as consumed yet (next commit): %r", self.name, exc)
            return
        self._marked = True

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
        if self.tags.valid(topic, record.key, record.value or b"", record.headers):
            event.mark_authenticated()
        refused = self._refusal(self._topics_by_name[topic], record, event)
        if refused is not None:
            await self._dead_letter(record, f"{event.type}: {refused}", event)
            return
        try:
            with logs.bound(practice=event.practice):
                fresh = await self._apply_or_dead_letter(record, event)
        except INFRASTRUCTURE_ERRORS:
            self._fall_behind()
            raise
        if fresh is None:
            return
        if fresh:
            self._observe_replication_lag(topic, event)
        if fresh and self.on_committed is not None:
            self.on_committed()
        outcome = "applied" if fresh else "duplicate"
        self.metrics.events_consumed.labels(
            **self.metrics.base(), topic=topic, outcome=outcome
        ).inc()

    def _refusal(self, topic: Topic, record: ConsumerRecord, event: Envelope) -> str | None:
        """Why ``event`` may not be applied at all (no valid tag where one is required, a
        time beyond the allowed skew), or None. Checked before any database work."""
        if topic.tagged and not event.authenticated:
            if not self.settings.bus_accept_untagged:
                return "no valid tweestap-tag: not written by Tweestap (DESIGN §9)"
            log.warning(
                "applying an untagged record from %s@%s (TWEESTAP_BUS_ACCEPT_UNTAGGED is on)",
                record.topic,
                record.offset,
                extra=_where(self.name, record, event),
            )
        try:
            self.bounds.check_time("the event's time", event.time)
        except InvalidEvent as exc:
            return str(exc)
        return None

    def _observe_replication_lag(self, topic: str, event: Envelope) -> None:
        """How long an event from the other zone took to be applied here (its ``time`` is
        stamped in the origin zone: clock skew between zones shows in this figure). The topic
        is labelled without the deployment's prefix; an origin that is not a zone is "other",
        so a writer cannot grow the label set."""
        origin = event.zone if event.zone in get_args(Zone) else "other"
        if origin == self.settings.zone:
            return
        stamped = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
        self.metrics.replication_lag.labels(
            **self.metrics.base(), topic=self._topics_by_name[topic].name, origin=origin
        ).observe(max(0.0, (utcnow() - stamped).total_seconds()))

    async def _apply_or_dead_letter(self, record: ConsumerRecord, event: Envelope) -> bool | None:
        """Apply ``event`` (True: applied, False: a duplicate), or dead-letter it (None).
        Infrastructure failures propagate: the record is fine and will be tried again."""
        attempts, delay = self.settings.consumer_attempts, self.settings.consumer_backoff_seconds
        reason = ""
        try:
            conn = await self.pool.acquire()
        except asyncpg.PostgresError as exc:
            raise DatabaseUnavailable(f"no database connection: {exc!r}") from exc
        try:
            for attempt in range(1, attempts + 1):
                try:
                    return await self._apply(conn, record.topic, event)
                except Exception as exc:
                    fault = classify(exc)
                    if fault is Fault.INFRASTRUCTURE:
                        raise
                    reason = f"{event.type}: {_summary(exc)}"
                    if fault is Fault.RECORD:
                        break
                    reason += f" (failed {attempt} of {attempts} attempts)"
                    log.warning(
                        "consumer %s: %s@%s failed (attempt %d of %d): %s",
                        self.name,
                        record.topic,
                        record.offset,
                        attempt,
                        attempts,
                        type(exc).__name__,
                        extra={
                            **_where(self.name, record, event),
                            "attempt": attempt,
                            "attempts": attempts,
                            "error": type(exc).__name__,
                        },
                    )
                    self.metrics.events_consumed.labels(
                        **self.metrics.base(), topic=record.topic, outcome="failed"
                    ).inc()
                    if attempt < attempts:
                        await asyncio.sleep(delay)
                        delay *= 2
        finally:
            await self.pool.release(conn)
        await self._dead_letter(record, reason, event)
        return None

    async def _apply(self, conn: asyncpg.Connection, topic: str, event: Envelope) -> bool:
        async with conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING true",
                self.name,
                event.id,
            )
            if fresh:
                with bounds.applying(self.bounds):
                    await self.handlers[topic](conn, event)
        return bool(fresh)

    async def _dead_letter(
        self, record: ConsumerRecord, reason: str, event: Envelope | None = None
    ) -> None:
        """Keep ``record`` in ``dead_letters`` with ``reason``; the log line names where it
        was and why, never its payload."""
        reason = _storable(reason)[:1000]
        log.warning(
            "dead letter from %s@%s: %s",
            record.topic,
            record.offset,
            reason,
            extra={**_where(self.name, record, event), "reason": reason},
        )
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

    async def _at_the_ends(self, consumer: AIOKafkaConsumer) -> bool:
        """Whether the consumer is at the end of each partition as the broker names it now.
        A highwater is that of the last fetch response, possibly from before a stop: after
        one, the first empty batch would compare the position with the bus as it was. Asked
        only while behind; a fall behind during the question leaves it behind. Tansu's end is
        the first record of the last batch + 1 (:mod:`shared.partition_ends`): still past a
        position before that batch; a position inside it came with that batch's fetch, whose
        highwater says behind, so this is not asked."""
        falls = self._falls
        assigned = list(consumer.assignment())
        try:
            ends = await consumer.end_offsets(assigned)
        except KafkaError as exc:
            log.info("consumer %s: ends not known yet (%r): still catching up", self.name, exc)
            return False
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return falls == self._falls

    def _lag_due(self, now: float) -> bool:
        """Whether to read the lag now (:data:`LAG_REPORT_SECONDS`); noted as read if so."""
        if self._behind_since is None and now - self._lag_read_at < LAG_REPORT_SECONDS:
            return False
        self._lag_read_at = now
        return True

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        lag: dict[str, int] = {}
        unknown = 0
        for tp in consumer.assignment():
            assert isinstance(tp, TopicPartition)
            high = consumer.highwater(tp)
            if high is None:
                unknown += 1
                continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - await consumer.position(tp))
        self._lag = sum(lag.values())
        # Assigned nothing, a member has nothing to read: caught up (not before it has joined).
        read_to_end = self.joined and unknown == 0 and self._lag == 0
        if self._behind_since is not None and read_to_end and await self._at_the_ends(consumer):
            self._caught_up()
        for topic, value in lag.items():
            self.metrics.consumer_lag.labels(**self.metrics.base(), topic=topic).set(value)


class _Assignments(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the consumer each assignment the group gives it, an empty one too (which
    ``assignment()`` cannot tell from not having joined yet)."""

    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.owner._commit_revoked(frozenset(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.owner.partitions = frozenset(assigned)
        self.owner.joined = True


def _where(consumer: str, record: ConsumerRecord, event: Envelope | None) -> dict[str, Any]:
    """Log fields naming a record (and its event, once parsed)."""
    fields: dict[str, Any] = {
        "consumer": consumer,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
    }
    if event is not None:
        fields.update(event_id=str(event.id), event_type=event.type, practice=event.practice)
    return fields


def _summary(exc: Exception) -> str:
    """The reason of a dead letter: pydantic's messages (never the values), a handler's own
    words, or the exception's type and message."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
    if isinstance(exc, InvalidEvent):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _storable(text: str) -> str:
    """``text`` without what PostgreSQL's ``text`` refuses (NUL, lone surrogates)."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
