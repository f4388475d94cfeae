"""A service's periodic work (housekeeping, key reloads, expiry notices): one loop for all;
and the wait of a loop that is woken early (the outbox relay, the notifier's deliveries)."""

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


async def woken(wake: asyncio.Event, seconds: float) -> bool:
    """Wait until ``wake`` is set or ``seconds`` have passed; True if it was set.

    A cancellation always goes through. ``asyncio.wait_for`` (Python 3.11) returns the
    awaited result instead when the cancellation and the result come in the same step of the
    loop, and a worker loop around it went on after its shutdown. That happens inside the
    libraries too (aiokafka's requests), so a cancellation asked for and lost on the way is
    honoured here, at the loop's wait."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    try:
        async with asyncio.timeout(seconds):
            await wake.wait()
    except TimeoutError:
        return False
    return True
