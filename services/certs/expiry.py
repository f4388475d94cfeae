"""Expiry: tell the practice at 30, 14, 7 and 1 days before a certificate expires and when it
has, once per threshold. Both zones run this; the notice's request id and the event's id are
derived from (practice, nr, threshold), so the notifier sends once and consumers apply once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from services.certs.adapters import repository as repo
from services.certs.certificates import Certificates
from services.certs.domain import certificate as certs
from services.certs.domain.rules import (
    days_left,
    due_threshold,
    expiry_event_id,
    expiry_request_id,
    expiry_subject,
)
from shared.events import utcnow
from shared.notify import local_time, notify_request, request_notification
from shared.topics import CERTS_EVENTS

log = logging.getLogger(__name__)


class Expiry(Certificates):
    def mail_date(self, at: datetime) -> str:
        return local_time(at, self.settings.mail_time_zone, "%d-%m-%Y")

    async def check_expiry(self, now: datetime | None = None) -> int:
        """Queue the notices now due; returns how many were queued. Sets the expiry gauge."""
        now = now or utcnow()
        queued = 0
        async with self.pool.acquire() as conn:
            rows = await repo.live_certificates(conn)
        for row in rows:
            practice, nr = row["practice"], row["nr"]
            not_after: datetime = row["not_after"]
            self.metrics.expiry.labels(**self.metrics.base(), practice=practice, nr=nr).set(
                not_after.timestamp()
            )
            threshold = due_threshold(not_after, now)
            if threshold is None:
                continue
            async with self.pool.acquire() as conn, conn.transaction():
                sent = await repo.notices(conn, practice, nr)
                # A smaller (later) threshold already told the practice more than this one.
                if any(t <= threshold for t in sent):
                    continue
                if not await repo.add_notice(conn, practice, nr, threshold, now):
                    continue  # another worker of this zone queued it meanwhile
                left = days_left(not_after, now)
                about = certs.describe_pem(row["certificate_pem"])
                if row["practice_email"]:
                    envelope = notify_request(
                        self.settings,
                        self.keyring,
                        practice,
                        nr,
                        "email",
                        "certificate_expiry",
                        row["practice_email"],
                        {
                            "practice_name": row["practice_name"] or practice,
                            "certificate": about.subject,
                            "serial": about.serial_spaced,
                            "expires_at": self.mail_date(not_after),
                            "days_left": left,
                        },
                        now=now,
                        request_id=expiry_request_id(practice, nr, threshold),
                    )
                    await request_notification(conn, self.settings, envelope)
                else:
                    log.warning("practice %s has no e-mail address for expiry notices", practice)
                await self.emit(
                    conn,
                    CERTS_EVENTS,
                    "certificate.expired" if left == 0 else "certificate.expiring",
                    practice,
                    expiry_subject(nr, threshold),
                    {
                        "nr": nr,
                        "not_after": not_after.isoformat(),
                        "threshold_days": threshold,
                        "days_left": left,
                    },
                    now,
                    id=expiry_event_id(practice, nr, threshold),
                )
            self.metrics.notice(threshold)
            queued += 1
        return queued

    async def housekeeping(self) -> None:
        now = utcnow()
        retention = timedelta(milliseconds=self.settings.topics.retention_ms)
        async with self.pool.acquire() as conn:
            await repo.housekeeping(conn, now, now - retention)
