"""One call over several zones: the first good answer wins. No I/O of its own: the legs are
passed in as a coroutine function, so the rule is unit-tested with fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def first_answer(
    order: Sequence[int],
    attempt: Callable[[int], Awaitable[T]],
    *,
    leg_failed: type[BaseException],
    hedge_after: float | None = None,
    on_hedge: Callable[[int], None] | None = None,
) -> tuple[int, T]:
    """Run ``attempt(zone)`` for ``order[0]``; return ``(zone, result)`` of the first leg that
    returns, cancelling the others. A leg that raises ``leg_failed`` (this zone failed: a
    connection error, a timeout, a 5xx) starts the next zone if no other leg is still running,
    else the running ones are waited for. Any other exception is the answer (the server's
    verdict, e.g. a 4xx, or a call that must not be repeated) and is raised at once.
    ``hedge_after`` (seconds, None: never): when the newest leg has not answered by then, the
    next zone starts too (``on_hedge(zone)`` is told), without cancelling the slow one.
    When every zone failed, the last ``leg_failed`` error is raised."""
    loop = asyncio.get_running_loop()
    waiting = list(order)
    running: dict[asyncio.Future[T], int] = {}
    last_error: BaseException | None = None
    launched_at = 0.0

    def launch() -> int:
        nonlocal launched_at
        zone = waiting.pop(0)
        running[asyncio.ensure_future(attempt(zone))] = zone
        launched_at = loop.time()
        return zone

    launch()
    try:
        while running:
            timeout = None
            if waiting and hedge_after is not None:
                timeout = max(0.0, launched_at + hedge_after - loop.time())
            done, _ = await asyncio.wait(
                running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:  # the newest leg is slow: the next zone too
                zone = launch()
                if on_hedge is not None:
                    on_hedge(zone)
                continue
            ordered = sorted(done, key=lambda leg: leg.exception() is not None)
            for leg in ordered:  # an answer first, when one leg answered and another failed
                zone = running.pop(leg)
                error = leg.exception()
                if error is None:
                    return zone, leg.result()
                if not isinstance(error, leg_failed):
                    raise error
                last_error = error
            if not running and waiting:
                launch()
        assert last_error is not None
        raise last_error
    finally:
        for leg in running:
            leg.cancel()
        await asyncio.gather(*running, return_exceptions=True)
