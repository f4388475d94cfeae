"""Argon2id password hashing off the event loop (argon2-cffi releases the GIL), with a
bounded queue: anyone can make a login cost an argon2 verify, so beyond ``max_waiting`` hashes
waiting for a thread the hasher refuses at once (503) instead of queueing without end."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.problems import Problem

T = TypeVar("T")


class HasherBusy(Problem):
    """Too many hashes already waiting: try again shortly."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            503,
            "hasher-busy",
            "Too busy",
            "Too many logins at once; try again shortly.",
            retry_after=retry_after,
        )


class Hasher:
    def __init__(
        self,
        memory_kib: int,
        time_cost: int,
        parallelism: int,
        workers: int = 0,
        max_waiting: int = 64,
        busy_retry_seconds: int = 1,
        cpu_spent: Callable[[float], None] | None = None,
    ) -> None:
        """``cpu_spent``: told the CPU seconds of each hashing job (its thread's time), so
        the argon2 share of auth's CPU can be told apart from the rest (``tweestap bench``)."""
        self._ph = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._workers = workers or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="argon2")
        self._max_waiting = max_waiting
        self._busy_retry_seconds = busy_retry_seconds
        self._cpu_spent = cpu_spent
        #: Hashing jobs submitted and not finished (running or waiting for a thread).
        self._queued = 0
        # Verified when the user is unknown, so that the answer takes the same time.
        self._dummy = self._ph.hash(os.urandom(16).hex())

    @property
    def waiting(self) -> int:
        """Hashing jobs waiting for a thread."""
        return max(0, self._queued - self._workers)

    async def _run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on a hashing thread, or refuse (:class:`HasherBusy`) when the queue is
        full. The check and the count are on the event loop, so they cannot race."""
        if self._queued >= self._workers + self._max_waiting:
            raise HasherBusy(self._busy_retry_seconds)
        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._timed(job))
        finally:
            self._queued -= 1

    def _timed(self, job: Callable[[], T]) -> Callable[[], T]:
        spent = self._cpu_spent
        if spent is None:
            return job

        def timed() -> T:
            started = time.thread_time()
            try:
                return job()
            finally:
                spent(time.thread_time() - started)

        return timed

    def _verify(self, hashed: str | None, password: str) -> bool:
        try:
            return self._ph.verify(hashed or self._dummy, password) and hashed is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _first_match(self, hashes: list[str], password: str) -> bool:
        return any(self._verify(h, password) for h in hashes)  # stops at the first match

    async def verify(self, hashed: str | None, password: str) -> bool:
        """True if ``password`` matches; with ``hashed=None`` spends the same time, False."""
        return await self._run(lambda: self._verify(hashed, password))

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._ph.hash(password))

    async def matches_any(self, hashes: list[str], password: str) -> bool:
        """True if ``password`` is one of the (historic) ``hashes``: one queued job that checks
        them in turn and stops at the first match (one request takes one place in the queue)."""
        if not hashes:
            return False
        return await self._run(lambda: self._first_match(hashes, password))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
