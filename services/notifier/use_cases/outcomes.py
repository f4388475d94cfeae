"""Outcomes: what a delivery attempt leads to, recorded in one transaction with the events it
announces — delivered (a result on ``notify.results``), tried again after a backoff, or given
up on (a result, and a dead letter on ``notify.dlq``)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg

from services.notifier.adapters import repository as repo
from services.notifier.domain.delivery import DeliveryError, RetryPolicy, failure_reason
from services.notifier.domain.message import Message
from services.notifier.metrics import NotifierMetrics
from shared.events import Envelope, NotifyResult, utcnow
from shared.outbox import publish
from shared.settings import Settings
from shared.topics import NOTIFY_DLQ, NOTIFY_RESULTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcomes:
    pool: asyncpg.Pool
    #: Where events go (the topic prefix) and whose they are (the source).
    settings: Settings
    retry: RetryPolicy
    metrics: NotifierMetrics

    async def delivered(self, message: Message) -> None:
        now = utcnow()
        latency = (now - message.requested_at).total_seconds()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.mark_delivered(conn, message.request_id, now)
            await self._result(conn, message, "delivered", latency_ms=latency * 1000)
        labels = {**self.metrics.base(), "channel": message.channel}
        self.metrics.sent.labels(**labels).inc()
        self.metrics.latency.labels(**labels).observe(latency)

    async def failed(self, message: Message, error: DeliveryError) -> None:
        now = utcnow()
        delay = self.retry.delay(error, message.attempts)
        if delay is None:
            await self._give_up(message, error, now)
        else:
            await self._retry_later(message, error, now, now + timedelta(seconds=delay))

    async def _retry_later(
        self, message: Message, error: DeliveryError, now: datetime, at: datetime
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.mark_retry(conn, message.request_id, now, at, error.reason)
        self.metrics.retries.labels(
            **self.metrics.base(), channel=message.channel, reason=error.reason
        ).inc()
        log.info("delivery of %s will be retried: %s", message.request_id, error.reason)

    async def _give_up(self, message: Message, error: DeliveryError, now: datetime) -> None:
        reason = failure_reason(error)
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.mark_failed(conn, message.request_id, now, reason)
            await self._result(conn, message, "failed", reason=reason)
            await self._dead_letter(conn, message, reason, error.detail)
        self.metrics.failed.labels(
            **self.metrics.base(), channel=message.channel, reason=error.reason
        ).inc()
        self.metrics.dead_letters.labels(**self.metrics.base(), reason=error.reason).inc()
        log.warning("delivery of %s failed: %s", message.request_id, error.reason)

    async def _result(
        self,
        conn: asyncpg.Connection,
        message: Message,
        status: Literal["delivered", "failed"],
        latency_ms: float | None = None,
        reason: str | None = None,
    ) -> None:
        body = NotifyResult(
            request_id=message.request_id,
            channel=message.channel,
            status=status,
            attempts=message.attempts,
            latency_ms=latency_ms,
            reason=reason,
        )
        event = self._event("notify.result", message, body.model_dump(mode="json"))
        await publish(conn, self.settings, NOTIFY_RESULTS, event)

    async def _dead_letter(
        self, conn: asyncpg.Connection, message: Message, reason: str, detail: str
    ) -> None:
        data = {
            "request_id": str(message.request_id),
            "channel": message.channel,
            "template": message.template,
            "attempts": message.attempts,
            "reason": reason,
            "detail": detail,
        }
        event = self._event("notify.dead_letter", message, data)
        await publish(conn, self.settings, NOTIFY_DLQ, event)

    def _event(self, type_: str, message: Message, data: dict[str, Any]) -> Envelope:
        """An event about ``message`` whose id follows from the request id and its type, so
        that one recorded twice is one event."""
        return Envelope(
            id=uuid.uuid5(message.request_id, type_),
            type=type_,
            source=self.settings.source,
            time=utcnow(),
            practice=message.practice,
            subject=str(message.request_id),
            data=data,
        )
