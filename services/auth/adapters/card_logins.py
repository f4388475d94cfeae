"""Card logins' rows (``020_card_logins.sql``): the challenges and the spent statements of this
zone. Who a card names is read like a Dezi login's (:mod:`services.auth.adapters.dezi_links`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

#: Spent challenges and statements are forgotten this long after they expire.
KEEP = timedelta(hours=1)


async def add_challenge(
    conn: asyncpg.Connection,
    challenge_id: str,
    practice: str | None,
    nonce: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute("DELETE FROM card_challenges WHERE expires_at < $1", now - KEEP)
    await conn.execute(
        "INSERT INTO card_challenges (id, practice, nonce, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        challenge_id,
        practice,
        nonce,
        now,
        expires_at,
    )


async def take_challenge(conn: asyncpg.Connection, challenge_id: str) -> asyncpg.Record | None:
    """The challenge, spent by this call whatever follows (a nonce is good for one try); None
    if there is none. The caller checks ``used`` (spent before) and ``expires_at``."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """WITH found AS (SELECT id, used FROM card_challenges WHERE id = $1 FOR UPDATE)
           UPDATE card_challenges c SET used = true FROM found WHERE c.id = found.id
           RETURNING c.practice, c.nonce, c.expires_at, found.used""",
        challenge_id,
    )
    return row


async def spend_statement(
    conn: asyncpg.Connection, statement_id: str, expires_at: datetime, now: datetime
) -> bool:
    """Whether the statement was unspent (it is spent now)."""
    await conn.execute("DELETE FROM card_statements WHERE expires_at < $1", now - KEEP)
    spent = await conn.fetchval(
        "INSERT INTO card_statements (id, expires_at) VALUES ($1, $2) "
        "ON CONFLICT (id) DO NOTHING RETURNING true",
        statement_id,
        expires_at,
    )
    return bool(spent)
