"""A service's periodic work (housekeeping, key reloads, expiry notices): one loop for all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)


async def every(
    seconds: float, job: Callable[[], Awaitable[None]], name: str, *, at_start: bool = True
) -> None:
    """Run ``job`` every ``seconds`` (first at once, or after one interval without
    ``at_start``) until cancelled. A failure of the database or the network is logged and
    waits for the next round; anything else ends the loop (its supervisor starts it again)."""
    if not at_start:
        await asyncio.sleep(seconds)
    while True:
        try:
            await job()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("%s failed, will retry: %r", name, exc, extra={"task": name})
        await asyncio.sleep(seconds)
