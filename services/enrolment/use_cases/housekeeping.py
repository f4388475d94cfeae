"""The enrolment service's periodic work: reloading the token keys (a retired key goes) and
forgetting what can no longer matter (old inbox rows, finished wizards)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.enrolment.adapters import repository as repo
from shared.events import utcnow
from shared.gate import TokenGate
from shared.periodic import every


@dataclass(frozen=True)
class Maintenance:
    pool: asyncpg.Pool
    gate: TokenGate
    #: The topics' retention: no older event can come again.
    retention: timedelta
    interval_seconds: float

    async def run(self) -> None:
        """Every interval (the first after one) until cancelled."""
        await every(self.interval_seconds, self.once, "maintenance", at_start=False)

    async def once(self) -> None:
        await self.gate.load_keys()
        now = utcnow()
        async with self.pool.acquire() as conn:
            await repo.housekeeping(conn, now, now - self.retention)
