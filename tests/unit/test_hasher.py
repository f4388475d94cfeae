"""Argon2id hashing off the event loop (services.auth.adapters.hasher), with small parameters."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator

import pytest

from services.auth.adapters.hasher import Hasher, HasherBusy


@pytest.fixture
def hasher() -> Iterator[Hasher]:
    h = Hasher(memory_kib=8 * 1024, time_cost=1, parallelism=1, workers=2)
    yield h
    h.close()


async def test_hash_is_argon2id_and_verifies(hasher: Hasher) -> None:
    hashed = await hasher.hash("Lange-Zin-Met-Koffie-93")
    assert hashed.startswith("$argon2id$")
    assert "Lange-Zin" not in hashed
    assert await hasher.verify(hashed, "Lange-Zin-Met-Koffie-93")
    assert not await hasher.verify(hashed, "lange-zin-met-koffie-93")
    assert await hasher.hash("Lange-Zin-Met-Koffie-93") != hashed  # salted


async def test_unknown_user_never_verifies(hasher: Hasher) -> None:
    assert not await hasher.verify(None, "")
    assert not await hasher.verify(None, "anything")


async def test_malformed_hash_does_not_verify(hasher: Hasher) -> None:
    assert not await hasher.verify("not-a-hash", "anything")


async def test_matches_any(hasher: Hasher) -> None:
    history = [await hasher.hash(p) for p in ("oud-1", "oud-2", "oud-3")]
    assert await hasher.matches_any(history, "oud-2")
    assert not await hasher.matches_any(history, "nieuw")
    assert not await hasher.matches_any([], "oud-1")


async def test_queue_beyond_max_waiting_is_refused_at_once() -> None:
    small = Hasher(memory_kib=8 * 1024, time_cost=1, parallelism=1, workers=1, max_waiting=2)
    try:
        results = await asyncio.gather(
            *(small.verify(None, f"guess-{i}") for i in range(10)), return_exceptions=True
        )
        busy = [r for r in results if isinstance(r, HasherBusy)]
        assert len(busy) == 7, f"10 at once, 1 worker, 2 waiting: {len(busy)} refused"
        assert busy[0].status == 503 and busy[0].extra["retry_after"] >= 1
        assert small.waiting == 0
        assert not await small.verify(None, "later"), "the queue drains and serves again"
    finally:
        small.close()


async def test_matches_any_stops_at_the_first_match(hasher: Hasher) -> None:
    history = [await hasher.hash(p) for p in ("oud-1", "oud-2", "oud-3")]
    checked: list[str] = []
    original = hasher._verify

    def counting(hashed: str | None, password: str) -> bool:
        checked.append(hashed or "")
        return original(hashed, password)

    hasher._verify = counting  # type: ignore[method-assign]
    assert await hasher.matches_any(history, "oud-1")
    assert checked == history[:1], f"{len(checked)} verifies for a match at the first"


def _thread_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.parametrize("niceness", [0, 7])
async def test_hashes_run_below_the_event_loop(niceness: int) -> None:
    """Each hashing thread runs ``niceness`` below the thread that made the hasher (the
    event loop), and the loop's own priority is left as it was."""
    loop_niceness = _thread_niceness()
    h = Hasher(memory_kib=8 * 1024, time_cost=1, parallelism=1, workers=2, niceness=niceness)
    seen: set[int] = set()
    original = h._verify

    def noting(hashed: str | None, password: str) -> bool:
        seen.add(_thread_niceness())
        return original(hashed, password)

    h._verify = noting  # type: ignore[method-assign]
    try:
        hashed = await h.hash("wachtwoord")
        assert all(await asyncio.gather(*(h.verify(hashed, "wachtwoord") for _ in range(6))))
    finally:
        h.close()
    assert seen == {min(19, loop_niceness + niceness)}
    assert _thread_niceness() == loop_niceness


async def test_a_host_that_refuses_the_lower_priority_still_hashes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A sandbox may refuse setpriority: the hashing threads then run at the loop's priority
    (and say so) instead of breaking the pool, which would fail every login."""

    def refuse(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refuse)
    h = Hasher(memory_kib=8 * 1024, time_cost=1, parallelism=1, workers=1, niceness=10)
    try:
        assert await h.verify(await h.hash("wachtwoord"), "wachtwoord")
    finally:
        h.close()
    assert "event loop's priority" in caplog.text
