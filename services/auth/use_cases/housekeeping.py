"""Auth's periodic work: rotating this zone's key when due and forgetting what can no longer
matter, every few minutes, a failure waiting for the next round."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.auth.adapters import housekeeping
from services.auth.use_cases.keys import Keys
from shared.events import utcnow
from shared.periodic import every

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Housekeeping:
    pool: asyncpg.Pool
    #: The topics' retention: no older event can come again.
    retention: timedelta
    #: How long a failed attempt is remembered.
    failure_memory: timedelta
    #: The login codes' send window (``otp_send_window_seconds``).
    code_window: timedelta
    #: The longest session.
    session_max: timedelta

    async def housekeeping(self) -> None:
        """Delete finished logins, revocations of sessions past their end, inbox ids older than
        the broker's retention (no redelivery can come after that), TOTP steps too old to
        match, spent login codes and fallback nonces, fallback uses past their 30 days and
        cutoffs older than any session."""
        async with self.pool.acquire() as conn:
            await housekeeping.forget(
                conn,
                utcnow(),
                retention=self.retention,
                failure_memory=self.failure_memory,
                code_window=self.code_window,
                session_max=self.session_max,
            )


@dataclass(frozen=True)
class Maintenance:
    keys: Keys
    housekeeping: Housekeeping
    interval_seconds: float

    async def run(self) -> None:
        """Every interval (the first after one) until cancelled."""
        await every(self.interval_seconds, self.once, "maintenance", at_start=False)

    async def once(self) -> None:
        await self.keys.rotate_if_due()
        await self.housekeeping.housekeeping()
