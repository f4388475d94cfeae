"""Housekeeping: forget finished messages (their recipients are personal data), old inbox ids
and dead letters once they are older than the retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.notifier.adapters import repository as repo
from shared.events import utcnow
from shared.periodic import every

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 600


@dataclass(frozen=True)
class Housekeeping:
    pool: asyncpg.Pool
    retention: timedelta

    async def forget(self) -> None:
        async with self.pool.acquire() as conn:
            await repo.forget_before(conn, utcnow() - self.retention)

    async def run(self) -> None:
        """At start and every :data:`INTERVAL_SECONDS` until cancelled."""
        await every(INTERVAL_SECONDS, self.forget, "housekeeping")
