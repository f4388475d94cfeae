"""Use cases of the notifier: take a request into the delivery queue (exactly once per request
id), and deliver queued messages with retries, rate limits, results and dead letters.

Exactly-once delivery: the consumer queues a request and records its event id in one
transaction. The dispatcher records each attempt (status ``sending``, a lease) and commits
before it talks to SMTP or the gateway, and records the result after. The one remaining
at-least-once corner: the process dies after the server accepted the message and before the
result is committed (a few milliseconds per message); when the lease runs out the message is
sent again. Anything else — a crash before sending, a broker redelivery, a duplicate request
id — sends nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg

from services.notifier.adapters import repository as repo
from services.notifier.adapters.email import SmtpSender, build_message
from services.notifier.adapters.sms import SmsProvider
from services.notifier.domain.delivery import (
    DeliveryError,
    RateLimit,
    backoff,
    check_recipient,
    permanent,
    transient,
)
from services.notifier.metrics import NotifierMetrics
from services.notifier.rendering import Templates
from services.notifier.settings import NotifierSettings
from shared.events import Envelope, NotifyRequest, NotifyResult, notify_aad, utcnow
from shared.outbox import publish
from shared.sealing import Keyring, SealingError
from shared.topics import NOTIFY_DLQ, NOTIFY_RESULTS

log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 600


@dataclass
class Notifier:
    settings: NotifierSettings
    pool: asyncpg.Pool
    keyring: Keyring
    templates: Templates
    smtp: SmtpSender
    sms: SmsProvider
    metrics: NotifierMetrics

    def __post_init__(self) -> None:
        self.wake = asyncio.Event()
        self.limit = RateLimit(
            self.settings.rate_limit_count,
            timedelta(seconds=self.settings.rate_limit_window_seconds),
        )
        self._inflight: set[asyncio.Task[None]] = set()

    async def accept(self, conn: asyncpg.Connection, event: Envelope) -> None:
        """Consumer side, inside the inbox transaction: queue the request. The dispatcher is
        woken after the commit (``wake_up``), when the row is visible."""
        request = NotifyRequest.model_validate(event.data)
        await repo.enqueue(conn, event.id, event.practice, request, event.time, utcnow())

    def wake_up(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        """Deliver due messages until cancelled. Deliveries flow: a message is claimed as soon
        as a slot is free and a wake-up (new request, finished delivery) or sweep finds it."""
        next_housekeeping = 0.0
        try:
            while True:
                if time.monotonic() >= next_housekeeping:
                    with contextlib.suppress(OSError, asyncpg.PostgresError):
                        await self.housekeeping()
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
                self.wake.clear()
                free = self.settings.concurrency - len(self._inflight)
                try:
                    claimed = await self.dispatch(free) if free > 0 else 0
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("dispatcher failed, retrying: %r", exc)
                    claimed = 0
                if free > 0 and claimed == free:
                    continue  # there may be more due right now
                try:
                    await asyncio.wait_for(self.wake.wait(), self.settings.dispatch_sweep_seconds)
                except TimeoutError:
                    await self._report_queue()
        finally:
            await self._finish_inflight()

    async def dispatch(self, limit: int) -> int:
        """Claim up to ``limit`` due messages and start delivering each."""
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.send_timeout_seconds * 3)
        rows = await repo.claim_due(self.pool, now, lease, limit)
        for row in rows:
            task = asyncio.create_task(self._deliver(row))
            self._inflight.add(task)
            task.add_done_callback(self._delivered)
        return len(rows)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self.wake.set()  # a slot is free

    async def _finish_inflight(self) -> None:
        """On shutdown, let deliveries under way finish (bounded), so that few are left to
        the lease and sent twice."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.settings.send_timeout_seconds)
        for task in self._inflight:
            task.cancel()

    async def _report_queue(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            queued = await self.pool.fetchval(
                "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')"
            )
            self.metrics.queued.labels(**self.metrics.base()).set(queued)

    async def housekeeping(self) -> None:
        """Forget finished messages (recipients are personal data) and old inbox ids."""
        before = utcnow() - timedelta(days=self.settings.message_retention_days)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM messages WHERE status IN ('delivered', 'failed') AND updated_at < $1",
                before,
            )
            await conn.execute("DELETE FROM inbox WHERE processed_at < $1", before)
            await conn.execute("DELETE FROM dead_letters WHERE received_at < $1", before)

    async def _deliver(self, row: asyncpg.Record) -> None:
        """Deliver one claimed message and record the outcome. If the database is away the
        row keeps its lease and is claimed again when the lease runs out."""
        try:
            await self._deliver_once(row)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("recording delivery of %s failed: %r", row["request_id"], exc)

    async def _deliver_once(self, row: asyncpg.Record) -> None:
        request_id: uuid.UUID = row["request_id"]
        try:
            await self._attempt(row)
        except DeliveryError as exc:
            await self._failed_attempt(row, exc)
            return
        except Exception as exc:
            # A message we cannot even attempt (bad parameter types, a malformed sender
            # address) must not stop the dispatcher for every other message.
            log.exception("delivery of %s failed unexpectedly", request_id)
            await self._failed_attempt(row, permanent("internal-error", type(exc).__name__))
            return
        now = utcnow()
        latency = (now - row["requested_at"]).total_seconds()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.mark_delivered(conn, request_id, now)
            await self._result(conn, row, "delivered", latency_ms=latency * 1000)
        self.metrics.sent.labels(**self.metrics.base(), channel=row["channel"]).inc()
        self.metrics.latency.labels(**self.metrics.base(), channel=row["channel"]).observe(latency)

    async def _attempt(self, row: asyncpg.Record) -> None:
        channel, recipient = row["channel"], row["recipient"]
        check_recipient(channel, recipient)
        async with self.pool.acquire() as conn:
            recent = await repo.recent_to(
                conn, recipient, self.limit.since(utcnow()), row["request_id"], row["requested_at"]
            )
            sender = (
                await repo.practice_sender(conn, row["practice"]) if channel == "email" else None
            )
        if not self.limit.allows(recent):
            raise permanent("rate-limited", "too many messages to this recipient")
        params = {**_json(row["parameters"]), **self._unseal(row)}
        rendered = self.templates.render(channel, row["template"], row["locale"], params)
        reference = str(row["request_id"])
        if channel == "sms":
            await self.sms.send(recipient, rendered.text, reference)
            return
        if sender is None:
            # The practice may not have reached this zone yet: worth waiting for.
            raise transient("practice-unknown", "the practice is not known (yet)")
        if not sender["email"]:
            raise permanent("practice-email-missing", "the practice has no e-mail address")
        message = build_message(sender["email"], sender["name"], recipient, rendered, reference)
        await self.smtp.send(message, sender["email"])

    def _unseal(self, row: asyncpg.Record) -> dict[str, str]:
        opened = {}
        for name, sealed in _json(row["sealed"]).items():
            try:
                aad = notify_aad(row["practice"], row["request_id"], name)
                opened[name] = self.keyring.open(sealed, aad).decode()
            except SealingError:
                raise permanent("sealed-parameter", f"{name} does not open") from None
        return opened

    async def _failed_attempt(self, row: asyncpg.Record, exc: DeliveryError) -> None:
        now = utcnow()
        channel = row["channel"]
        retry = exc.transient and row["attempts"] < self.settings.max_attempts
        async with self.pool.acquire() as conn, conn.transaction():
            if retry:
                delay = backoff(
                    row["attempts"],
                    self.settings.retry_base_seconds,
                    self.settings.retry_max_seconds,
                )
                await repo.mark_retry(
                    conn, row["request_id"], now, now + timedelta(seconds=delay), exc.reason
                )
            else:
                reason = exc.reason if not exc.transient else f"gave-up:{exc.reason}"
                await repo.mark_failed(conn, row["request_id"], now, reason)
                await self._result(conn, row, "failed", reason=reason)
                await self._dead_letter(conn, row, reason, exc.detail)
        if retry:
            self.metrics.retries.labels(
                **self.metrics.base(), channel=channel, reason=exc.reason
            ).inc()
            log.info("delivery of %s will be retried: %s", row["request_id"], exc.reason)
        else:
            self.metrics.failed.labels(
                **self.metrics.base(), channel=channel, reason=exc.reason
            ).inc()
            self.metrics.dead_letters.labels(**self.metrics.base(), reason=exc.reason).inc()
            log.warning("delivery of %s failed: %s", row["request_id"], exc.reason)

    async def _result(
        self,
        conn: asyncpg.Connection,
        row: asyncpg.Record,
        status: Literal["delivered", "failed"],
        latency_ms: float | None = None,
        reason: str | None = None,
    ) -> None:
        body = NotifyResult(
            request_id=row["request_id"],
            channel=row["channel"],
            status=status,
            attempts=row["attempts"],
            latency_ms=latency_ms,
            reason=reason,
        )
        await publish(
            conn,
            self.settings,
            NOTIFY_RESULTS,
            self._event("notify.result", row, body.model_dump(mode="json")),
        )

    async def _dead_letter(
        self, conn: asyncpg.Connection, row: asyncpg.Record, reason: str, detail: str
    ) -> None:
        data = {
            "request_id": str(row["request_id"]),
            "channel": row["channel"],
            "template": row["template"],
            "attempts": row["attempts"],
            "reason": reason,
            "detail": detail,
        }
        await publish(conn, self.settings, NOTIFY_DLQ, self._event("notify.dead_letter", row, data))

    def _event(self, type_: str, row: asyncpg.Record, data: dict[str, Any]) -> Envelope:
        return Envelope(
            id=uuid.uuid5(row["request_id"], type_),
            type=type_,
            source=self.settings.source,
            time=utcnow(),
            practice=row["practice"],
            subject=str(row["request_id"]),
            data=data,
        )


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        loaded: dict[str, Any] = json.loads(value)
        return loaded
    return dict(value)
