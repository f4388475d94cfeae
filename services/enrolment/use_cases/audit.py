"""The audit trail of the enrolment service (the practice administrator's service).

Fed only from the bus: a consumer of its own (``enrolment-audit``, a zone-specific group)
reads every zone's ``auth.events``, ``enrolment.events``, ``certs.events`` and the directory
topics, maps each event with :func:`services.enrolment.domain.audit.to_record` and keeps the
record in the transaction of its inbox row, so both zones' events end up in both zones'
stores, each once. A retention job deletes records older than
``TWEESTAP_AUDIT_RETENTION_DAYS``. The administrator reads them a page at a time or as JSON
lines, in a two-factor session only (NEN 7513)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.enrolment.adapters import audit_store as store
from services.enrolment.api_audit import AuditPage, encode_cursor, view
from services.enrolment.domain.audit import AUDITED_TYPES, Event, may_read, to_record
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.problems import two_factor_required
from services.enrolment.settings import EnrolmentSettings
from shared.consumer import EventConsumer
from shared.db import owner_connection
from shared.events import Envelope, utcnow
from shared.gate import AdminCheck
from shared.tokens import aal_of
from shared.topics import (
    AUTH_EVENTS,
    CERTS_EVENTS,
    DIRECTORY_EMPLOYEES,
    DIRECTORY_PRACTICES,
    ENROLMENT_EVENTS,
    Topic,
)

log = logging.getLogger(__name__)
#: The consumer's name (its inbox rows and its zone-specific group).
CONSUMER_NAME = "enrolment-audit"
AUDITED_TOPICS = (
    AUTH_EVENTS,
    ENROLMENT_EVENTS,
    CERTS_EVENTS,
    DIRECTORY_PRACTICES,
    DIRECTORY_EMPLOYEES,
)
#: Export: rows fetched per round trip.
EXPORT_PREFETCH = 500

#: Where a page of the trail ends: (time, event id) of its last record.
Cursor = tuple[datetime, uuid.UUID]


@dataclass
class AuditTrail:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    metrics: EnrolmentMetrics
    admin: AdminCheck

    async def reader(self, token: str, practice: str) -> None:
        """The practice's administrator in a two-factor session (NEN 7513): 401/403 as for
        any administrator's call, then 403 ``two-factor-required`` for a password-only one."""
        claims = await self.admin(token, practice)
        if not may_read(aal_of(claims)):
            raise two_factor_required()

    async def record(self, conn: asyncpg.Connection, event: Envelope) -> None:
        """The consumer's handler: keep the event's audit record (in the inbox transaction)."""
        record = to_record(
            Event(
                event.id,
                event.type,
                event.source,
                event.time,
                event.practice,
                event.subject,
                event.data,
                event.authenticated,
            )
        )
        if record is not None and await store.insert(conn, record):
            self.metrics.audited(record.action)

    async def page(
        self, practice: str, filters: store.Filters, limit: int, after: Cursor | None
    ) -> AuditPage:
        """Newest first, at most ``limit`` records older than ``after``, and the cursor of
        the next page (None at the end)."""
        async with self.pool.acquire() as conn:
            rows = await store.page(conn, practice, filters, limit + 1, after)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        return AuditPage(
            events=[view(r) for r in rows],
            next=encode_cursor(last["time"], last["event_id"]) if last is not None else None,
        )

    async def export(self, practice: str, filters: store.Filters) -> AsyncIterator[bytes]:
        """Every matching record, newest first, as JSON lines (one read-only transaction,
        :data:`EXPORT_PREFETCH` rows a round trip)."""
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            async for row in store.stream(conn, practice, filters, EXPORT_PREFETCH):
                yield view(row).model_dump_json().encode() + b"\n"

    def consumer(self) -> EventConsumer:
        handlers = dict.fromkeys(AUDITED_TOPICS, self.record)
        return EventConsumer(
            self.settings,
            self.pool,
            self.metrics,
            CONSUMER_NAME,
            handlers,
            accept=_auditable,
        )

    async def purge(self) -> int:
        """Delete the records past retention, as the tables' owner; how many went."""
        before = utcnow() - timedelta(days=self.settings.audit_retention_days)
        # As the table's owner: the service's own role may not delete audit records.
        async with owner_connection(self.settings, self.pool) as conn:
            count = await store.purge(conn, before)
        if count:
            self.metrics.purged(count)
            log.info("%d audit records past retention deleted", count)
        return count

    async def retention(self) -> None:
        """The supervised retention job: purge, then wait an interval (a failure ends the
        run; the supervisor logs it and starts it again)."""
        while True:
            await self.purge()
            await asyncio.sleep(self.settings.audit_purge_interval_seconds)


def _auditable(topic: Topic, event: Envelope) -> bool:
    """Skip what can never be a record before any database work (tokens renewed, keys)."""
    return event.type in AUDITED_TYPES
