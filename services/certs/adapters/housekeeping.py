"""Forgetting what can no longer matter: revocations of sessions long expired, old inbox rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

_HOUR = timedelta(hours=1)


async def housekeeping(conn: asyncpg.Connection, now: datetime, inbox_before: datetime) -> None:
    await conn.execute("DELETE FROM revocations WHERE session_expires_at < $1", now - _HOUR)
    await conn.execute("DELETE FROM inbox WHERE processed_at < $1", inbox_before)
