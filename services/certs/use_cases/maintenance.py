"""The store's periodic work: expiry notices and the expiry gauge, reloading the token keys,
forgetting what can no longer matter."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.certs.adapters.housekeeping import housekeeping
from services.certs.use_cases.expiry import ExpiryNotices
from shared.events import utcnow
from shared.gate import TokenGate
from shared.periodic import every

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Maintenance:
    pool: asyncpg.Pool
    expiry: ExpiryNotices
    gate: TokenGate
    #: How long inbox rows are kept (the topics' retention: no older event can come again).
    retention: timedelta
    interval_seconds: float
    clock: Callable[[], datetime] = utcnow

    async def run(self) -> None:
        """At start and every interval until cancelled."""
        await every(self.interval_seconds, self.once, "maintenance")

    async def once(self) -> None:
        await self.expiry.check()
        await self.gate.load_keys()
        now = self.clock()
        async with self.pool.acquire() as conn:
            await housekeeping(conn, now, now - self.retention)
