"""The statements a service's pool sends on behalf of requests, counted on the real pool
(round-trip budgets, and proofs that an answer came from memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from shared import logs
from shared.http import RUNTIME
from tests.support.cluster import Zone

#: Not the request's own work: asyncpg's type introspection the first time a connection meets a
#: type.
NOISE = (
    "SELECT current_setting('jit')",
    "WITH RECURSIVE typeinfo_tree",
    "SELECT set_config('jit'",
)


@asynccontextmanager
async def counted(zone: Zone) -> AsyncIterator[list[str]]:
    """The statements auth's pool sends for a request while the block runs. asyncpg calls a
    query logger with ``call_soon``, in a copy of the sending task's context: the request id
    the HTTP middleware set tells a request's statements from those of background tasks (the
    outbox relay, the back-channel logout sweep, consumers) that run beside it."""
    pool: asyncpg.Pool = zone.app[RUNTIME].pool
    seen: list[str] = []

    def log(record: Any) -> None:
        query = " ".join(str(record.query).split())
        if logs.request_id.get() is not None and not query.startswith(NOISE):
            seen.append(query[:60])

    connections = [holder._con for holder in pool._holders if holder._con is not None]
    for conn in connections:
        conn.add_query_logger(log)
    try:
        yield seen
    finally:
        for conn in connections:
            conn.remove_query_logger(log)
