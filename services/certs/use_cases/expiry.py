"""Expiry: tell the practice at 30, 14, 7 and 1 days before a certificate expires and when it
has, once per threshold. Both zones run this; the notice's request id and the event's id are
derived from (practice, nr, threshold), so the notifier sends once and consumers apply once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.certs.adapters import certificates as repo
from services.certs.domain import certificate as certs
from services.certs.domain.rules import (
    days_left,
    due_threshold,
    expiry_event_id,
    expiry_request_id,
    expiry_subject,
)
from services.certs.metrics import CertsMetrics
from services.certs.settings import CertsSettings
from shared.events import utcnow
from shared.notify import local_time, notify_request, request_notification
from shared.outbox import EventWriter
from shared.sealing import Keyring
from shared.topics import CERTS_EVENTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpiryNotices:
    settings: CertsSettings
    pool: asyncpg.Pool
    keyring: Keyring
    events: EventWriter
    metrics: CertsMetrics
    clock: Callable[[], datetime] = utcnow

    async def check(self, now: datetime | None = None) -> int:
        """Queue the notices now due; returns how many were queued. Sets the expiry gauge."""
        now = now or self.clock()
        async with self.pool.acquire() as conn:
            rows = await repo.live_certificates(conn)
        queued = 0
        for row in rows:
            self.metrics.expires(row["practice"], row["nr"], row["not_after"])
            threshold = due_threshold(row["not_after"], now)
            if threshold is not None and await self._notice(row, threshold, now):
                self.metrics.notice(threshold)
                queued += 1
        return queued

    async def _notice(self, row: asyncpg.Record, threshold: int, now: datetime) -> bool:
        """Queue the notice of ``threshold`` (mail and event) unless it is not needed or
        already queued; whether it was."""
        practice, nr = row["practice"], row["nr"]
        async with self.pool.acquire() as conn, conn.transaction():
            sent = await repo.notices(conn, practice, nr)
            # A smaller (later) threshold already told the practice more than this one.
            if any(t <= threshold for t in sent):
                return False
            if not await repo.add_notice(conn, practice, nr, threshold, now):
                return False  # another worker of this zone queued it meanwhile
            due = _Due(practice, nr, row["not_after"], threshold, days_left(row["not_after"], now))
            await self._mail(conn, row, due, now)
            await self._emit(conn, due, now)
        return True

    async def _mail(
        self, conn: asyncpg.Connection, row: asyncpg.Record, due: _Due, now: datetime
    ) -> None:
        if not row["practice_email"]:
            log.warning("practice %s has no e-mail address for expiry notices", due.practice)
            return
        about = certs.describe_pem(row["certificate_pem"])
        parameters = {
            "practice_name": row["practice_name"] or due.practice,
            "certificate": about.subject,
            "serial": about.serial_spaced,
            "expires_at": local_time(due.not_after, self.settings.mail_time_zone, "%d-%m-%Y"),
            "days_left": due.left,
        }
        envelope = notify_request(
            self.settings,
            self.keyring,
            due.practice,
            due.nr,
            "email",
            "certificate_expiry",
            row["practice_email"],
            parameters,
            now=now,
            request_id=expiry_request_id(due.practice, due.nr, due.threshold),
        )
        await request_notification(conn, self.settings, envelope)

    async def _emit(self, conn: asyncpg.Connection, due: _Due, now: datetime) -> None:
        data = {
            "nr": due.nr,
            "not_after": due.not_after.isoformat(),
            "threshold_days": due.threshold,
            "days_left": due.left,
        }
        await self.events.emit(
            conn,
            CERTS_EVENTS,
            "certificate.expired" if due.left == 0 else "certificate.expiring",
            due.practice,
            expiry_subject(due.nr, due.threshold),
            data,
            now,
            id=expiry_event_id(due.practice, due.nr, due.threshold),
        )


@dataclass(frozen=True)
class _Due:
    """A notice now queued: which certificate, which threshold, how many days are left."""

    practice: str
    nr: str
    not_after: datetime
    threshold: int
    left: int
