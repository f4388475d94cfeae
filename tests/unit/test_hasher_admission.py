"""The hasher's queue wired to its admission rules (services.auth.adapters.hasher with
services.auth.domain.admission): served oldest first, per client address when full, nothing
run after waiting too long, no thread lost to a caller that gave up. Jobs are plain functions
held on a threading.Event, so who runs when is decided by the test, not by argon2's speed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from services.auth.adapters.hasher import Hasher, HasherBusy
from shared import actors
from tests.support.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher(clock: Clock) -> Iterator[Hasher]:
    h = Hasher(8 * 1024, 1, 1, workers=1, max_waiting=3, max_wait_seconds=4.0, clock=clock)
    yield h
    h.close()


async def _job(
    hasher: Hasher, address: str, name: str, ran: list[str], gate: threading.Event
) -> str:
    """One hashing job from ``address`` (as the HTTP middleware would have bound it)."""
    actors.party.set(actors.Party(address))

    def work() -> str:
        gate.wait(5)
        ran.append(name)
        return name

    return await hasher._run(work)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_waiting_jobs_run_oldest_first(hasher: Hasher) -> None:
    gate, ran = threading.Event(), list[str]()
    tasks = []
    for name in ("first", "second", "third", "fourth"):
        tasks.append(asyncio.create_task(_job(hasher, "192.0.2.1", name, ran, gate)))
        await _settle()
    assert hasher.waiting == 3
    gate.set()
    assert await asyncio.gather(*tasks) == ["first", "second", "third", "fourth"]
    assert ran == ["first", "second", "third", "fourth"]


async def test_a_flooding_address_gives_way_to_another(hasher: Hasher) -> None:
    gate, ran = threading.Event(), list[str]()
    flood = [asyncio.create_task(_job(hasher, "192.0.2.1", f"f{i}", ran, gate)) for i in range(6)]
    await _settle()
    other = asyncio.create_task(_job(hasher, "198.51.100.7", "other", ran, gate))
    await _settle()
    gate.set()
    results = await asyncio.gather(*flood, return_exceptions=True)
    assert await other == "other", "the other address got a place"
    refused = [r for r in results if isinstance(r, HasherBusy)]
    assert len(refused) == 3, "1 running, 3 waiting, 2 refused on arrival, 1 displaced"
    assert ran == ["f0", "f1", "f2", "other"], "the flood's newest waiting job gave way"


async def test_a_job_that_waited_too_long_is_refused_not_run(hasher: Hasher, clock: Clock) -> None:
    gate, ran = threading.Event(), list[str]()
    running = asyncio.create_task(_job(hasher, "192.0.2.1", "running", ran, gate))
    await _settle()
    late = asyncio.create_task(_job(hasher, "198.51.100.7", "late", ran, gate))
    await _settle()
    clock.now = 4.5  # past max_wait_seconds while "late" waited
    gate.set()
    assert await running == "running"
    with pytest.raises(HasherBusy):
        await late
    assert ran == ["running"] and hasher.waiting == 0
    assert await _job(hasher, "198.51.100.7", "next", ran, gate) == "next", "serving again"


async def test_a_caller_that_gives_up_loses_no_thread(hasher: Hasher) -> None:
    gate, ran = threading.Event(), list[str]()
    running = asyncio.create_task(_job(hasher, "192.0.2.1", "running", ran, gate))
    await _settle()
    gone = asyncio.create_task(_job(hasher, "192.0.2.2", "gone", ran, gate))
    after = asyncio.create_task(_job(hasher, "192.0.2.3", "after", ran, gate))
    await _settle()
    gone.cancel()
    gate.set()
    assert await running == "running" and await after == "after"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert ran == ["running", "after"] and hasher._running == 0 and hasher.waiting == 0
