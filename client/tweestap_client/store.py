"""The token file: JSON, mode 0600, atomic replace, a cross-process lock, corrupt → aside."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout


class TokenFile:
    def __init__(self, path: str | os.PathLike[str], lock_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._lock = FileLock(f"{self.path}.lock", thread_local=False)

    def read(self) -> dict[str, Any] | None:
        """The stored token response, or None; a file that is not one is moved aside."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("token"), str):
                raise ValueError("not a token response")
        except ValueError:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time() * 1000)}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path, aside)
            return None
        return data

    def write(self, data: dict[str, Any]) -> None:
        """Temp file in the same directory (0600), fsync, rename over, fsync the directory."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(data).encode())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._fsync_dir()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """The cross-process lock, polled so the event loop never blocks on it."""
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                self._lock.acquire(timeout=0)
                break
            except Timeout:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)
        try:
            yield
        finally:
            self._lock.release()
