"""Argon2id password hashing off the event loop (argon2-cffi releases the GIL)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Hasher:
    def __init__(self, memory_kib: int, time_cost: int, parallelism: int, workers: int = 0) -> None:
        self._ph = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._pool = ThreadPoolExecutor(
            max_workers=workers or os.cpu_count() or 2, thread_name_prefix="argon2"
        )
        # Verified when the user is unknown, so that the answer takes the same time.
        self._dummy = self._ph.hash(os.urandom(16).hex())

    def _verify(self, hashed: str | None, password: str) -> bool:
        try:
            return self._ph.verify(hashed or self._dummy, password) and hashed is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, hashed: str | None, password: str) -> bool:
        """True if ``password`` matches; with ``hashed=None`` spends the same time, False."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify, hashed, password)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._ph.hash, password)

    async def matches_any(self, hashes: list[str], password: str) -> bool:
        """True if ``password`` is one of the (historic) ``hashes``; checked in parallel."""
        results = await asyncio.gather(*(self.verify(h, password) for h in hashes))
        return any(results)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
