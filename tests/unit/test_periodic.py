"""The wait of a loop that is woken early (shared/periodic.py): a pure asyncio mechanism."""

from __future__ import annotations

import asyncio
import contextlib

from shared.periodic import woken


async def test_woken_says_whether_the_wake_up_came() -> None:
    wake = asyncio.Event()
    assert await woken(wake, 0.01) is False
    wake.set()
    assert await woken(wake, 5.0) is True


async def test_a_cancellation_that_comes_with_the_wake_up_is_not_lost() -> None:
    """The wake-up and the cancellation in the same step of the loop: the loop stops (with
    ``asyncio.wait_for`` on Python 3.11 it took the wake-up and went round again)."""
    wake = asyncio.Event()
    rounds = 0

    async def worker() -> None:
        nonlocal rounds
        while True:
            wake.clear()
            await woken(wake, 5.0)
            rounds += 1

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)  # waiting for its wake-up
    wake.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert task in done and task.cancelled(), f"went on for {rounds} rounds"
    assert rounds == 0


async def test_a_cancellation_lost_on_the_way_is_honoured_at_the_next_wait() -> None:
    """A library swallowed the cancellation (as ``asyncio.wait_for`` does on Python 3.11 when
    the result comes in the same step): the loop stops at its next wait instead of waiting
    out the sweep and going round again."""
    wake = asyncio.Event()
    rounds = 0

    async def worker() -> None:
        nonlocal rounds
        while True:
            # A library call that loses the cancellation.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.05)
            await woken(wake, 5.0)
            rounds += 1

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)  # inside the library call
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert task in done and task.cancelled(), f"went on for {rounds} rounds"
