"""PostgreSQL access for passkey logins: a login's challenge (one per login, replaced by a new
one, spent by its first answer) and this zone's highest accepted signature counter per passkey.
Every function takes the caller's connection (the caller decides the transaction)."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def put_challenge(
    conn: asyncpg.Connection, login_id: str, challenge: str, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO passkey_challenges (login_id, challenge, created_at, expires_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (login_id) DO UPDATE
           SET challenge = $2, created_at = $3, expires_at = $4, used = false""",
        login_id,
        challenge,
        now,
        expires_at,
    )


async def take_challenge(conn: asyncpg.Connection, login_id: str) -> asyncpg.Record | None:
    """The login's challenge, spent by this call whatever the answer turns out to be; the
    caller checks ``used`` (spent before) and ``expires_at``."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """WITH current AS (
               SELECT login_id, used FROM passkey_challenges WHERE login_id = $1 FOR UPDATE)
           UPDATE passkey_challenges c SET used = true FROM current
           WHERE c.login_id = current.login_id
           RETURNING c.challenge, c.expires_at, current.used""",
        login_id,
    )
    return row


async def sign_count(conn: asyncpg.Connection, practice: str, factor: str) -> int | None:
    count: int | None = await conn.fetchval(
        "SELECT sign_count FROM passkey_counters WHERE practice = $1 AND factor = $2",
        practice,
        factor,
    )
    return count


async def put_sign_count(
    conn: asyncpg.Connection, practice: str, factor: str, count: int, now: datetime
) -> None:
    """The counter only goes forward."""
    await conn.execute(
        """INSERT INTO passkey_counters (practice, factor, sign_count, used_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (practice, factor) DO UPDATE
           SET sign_count = GREATEST(passkey_counters.sign_count, $3), used_at = $4""",
        practice,
        factor,
        count,
        now,
    )


async def forget_challenges(conn: asyncpg.Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM passkey_challenges WHERE expires_at < $1", before)
