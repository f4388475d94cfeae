"""The OpenID Provider's tables (migration 014): spent codes and grants with their refresh
generation, in this zone's database; the other zone's arrive as ``oidc.granted`` and
``oidc.refreshed`` on ``auth.events`` (:func:`apply`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, Field

from shared.events import ID_PATTERN, Text
from shared.outbox import FROM_JSON, OutboxRow, queued_cte, rows_json

GRANTED = "oidc.granted"
REFRESHED = "oidc.refreshed"


class GrantRow(BaseModel):
    """A grant as stored and as it travels (``oidc.granted``, ``oidc.refreshed``)."""

    sid: Text
    sso_sid: Text
    client_id: str = Field(pattern=ID_PATTERN)
    scope: Text
    auth_time: datetime
    session_expires_at: datetime
    generation: int = Field(ge=1, le=2**62)
    token_id: Text


class Granted(BaseModel):
    """``oidc.granted``: a code was redeemed (spent) and began ``grant``."""

    code_id: Text
    code_expires_at: datetime
    grant: GrantRow


@dataclass(frozen=True)
class Current:
    """A family's current refresh generation here, and whether its back-channel logout was
    asked for."""

    generation: int
    token_id: str


async def spend_code(
    conn: asyncpg.Connection,
    code_id: str,
    grant_sid: str,
    practice: str,
    employee: str,
    now: datetime,
    expires_at: datetime,
    zone: str,
) -> str | None:
    """Spend a code for ``grant_sid``; None if that is its first spending here (or the same
    grant's again: a replayed event), else the grant an earlier spending began (a second
    redemption)."""
    stored: str = await conn.fetchval(
        _SPEND_CODE.format(*(f"${i}" for i in range(1, 8))),
        code_id,
        grant_sid,
        practice,
        employee,
        now,
        expires_at,
        zone,
    )
    return None if stored == grant_sid else stored


#: Spends a code (``{0}``) for a grant (``{1}``); returns the grant the code's spending began.
#: The conflict takes the row's lock and returns it (``DO UPDATE``): with ``DO NOTHING`` a
#: spending that waited for a concurrent one to commit found no row (its snapshot predates
#: that commit) and took itself for the first, so six copies of one code redeemed at once all
#: got tokens.
_SPEND_CODE = """INSERT INTO oidc_spent_codes
                     (code_id, grant_sid, practice, employee, spent_at, expires_at, zone)
                 VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6})
                 ON CONFLICT (code_id) DO UPDATE SET code_id = EXCLUDED.code_id
                 RETURNING grant_sid"""
#: Stores a grant (``$1`` to ``$11``: :func:`_grant_values`) from ``{rows}`` unless known.
_INSERT_GRANT = """INSERT INTO oidc_grants (sid, sso_sid, client_id, practice, employee, scope,
                                           auth_time, session_expires_at, generation, token_id,
                                           updated_at)
                   {rows}
                   ON CONFLICT (sid) DO NOTHING
                   RETURNING true"""
_GRANT_VALUES = ", ".join(f"${i}" for i in range(1, 12))


def _grant_values(practice: str, employee: str, grant: GrantRow, now: datetime) -> tuple[Any, ...]:
    return (
        grant.sid,
        grant.sso_sid,
        grant.client_id,
        practice,
        employee,
        grant.scope,
        grant.auth_time,
        grant.session_expires_at,
        grant.generation,
        grant.token_id,
        now,
    )


#: The code (``$12``, until ``$13``, in zone ``$14``) spent for the grant (``$1`` to ``$11``),
#: and only on its first spending the grant stored and the outbox rows (``$15``) queued.
_REDEEM = (
    "WITH spent AS ("  # noqa: S608 - constants
    + _SPEND_CODE.format("$12", "$1", "$4", "$5", "$11", "$13", "$14")
    + "), granted AS ("
    + _INSERT_GRANT.format(rows=f"SELECT {_GRANT_VALUES} FROM spent WHERE grant_sid = $1")  # noqa: S608
    + "), "
    + queued_cte(
        FROM_JSON.format(param="$15", when="EXISTS (SELECT 1 FROM spent WHERE grant_sid = $1)")
    )
    # Read, so that the NOTIFY in its RETURNING is certainly evaluated.
    + " SELECT (SELECT grant_sid FROM spent), (SELECT count(*) FROM queued)"
)


async def redeem_code(
    conn: asyncpg.Connection,
    code_id: str,
    code_expires_at: datetime,
    practice: str,
    employee: str,
    grant: GrantRow,
    now: datetime,
    zone: str,
    events: list[OutboxRow],
) -> str | None:
    """:func:`spend_code` for ``grant``, and on the code's first spending ``grant`` stored and
    ``events`` queued, in one round trip (a code exchange's only write); None then, else the
    grant an earlier spending began, and nothing but the spending's lock was taken."""
    stored: str = await conn.fetchval(
        _REDEEM,  # the grant the code's spending began
        *_grant_values(practice, employee, grant, now),
        code_id,
        code_expires_at,
        zone,
        rows_json(events),
    )
    return None if stored == grant.sid else stored


async def insert_grant(
    conn: asyncpg.Connection, practice: str, employee: str, grant: GrantRow, now: datetime
) -> bool:
    """Store ``grant`` if this zone does not know it yet; True if it was new."""
    inserted: bool | None = await conn.fetchval(
        _INSERT_GRANT.format(rows=f"VALUES ({_GRANT_VALUES})"),
        *_grant_values(practice, employee, grant, now),
    )
    return bool(inserted)


async def current(conn: asyncpg.Connection, sid: str) -> Current | None:
    """The family's current generation, its row locked until the caller's transaction ends."""
    row = await conn.fetchrow(
        "SELECT generation, token_id FROM oidc_grants WHERE sid = $1 FOR UPDATE", sid
    )
    return None if row is None else Current(int(row["generation"]), str(row["token_id"]))


async def advance(
    conn: asyncpg.Connection, sid: str, generation: int, token_id: str, now: datetime
) -> None:
    """The family's current token is now ``generation`` (only ever forward)."""
    await conn.execute(
        """UPDATE oidc_grants SET generation = $2, token_id = $3, updated_at = $4
           WHERE sid = $1 AND generation < $2""",
        sid,
        generation,
        token_id,
        now,
    )


#: The family at the presented generation and token id (``$5``, ``$6``) moves to the next
#: (``$2``, ``$3``) and the events (``$7``) are queued, in one statement; nothing when it is not
#: at the presented one. A concurrent rotation of the same token holds the row until it
#: commits; this statement then finds the row moved on and changes nothing.
_ROTATE = (
    """WITH rotated AS (
           UPDATE oidc_grants SET generation = $2, token_id = $3, updated_at = $4
           WHERE sid = $1 AND generation = $5 AND token_id = $6
           RETURNING 1), """  # noqa: S608 - constants
    + queued_cte(FROM_JSON.format(param="$7", when="EXISTS (SELECT 1 FROM rotated)"))
    # Read, so that the NOTIFY in its RETURNING is certainly evaluated.
    + " SELECT EXISTS (SELECT 1 FROM rotated), (SELECT count(*) FROM queued)"
)


async def rotate(
    conn: asyncpg.Connection,
    sid: str,
    presented: tuple[int, str],
    following: tuple[int, str],
    now: datetime,
    events: list[OutboxRow],
) -> bool:
    """Rotate the family ``sid`` from its ``presented`` (generation, token id) to
    ``following`` and queue ``events``, in one round trip, if ``presented`` is its current
    token here; False (and nothing written) otherwise: the caller then decides under the
    row's lock (:func:`current`) whether it is a reuse, news from the other zone not arrived
    yet, or a family this zone does not know."""
    rotated: bool = await conn.fetchval(
        _ROTATE, sid, *following, now, *presented, rows_json(events)
    )
    return rotated


async def spent_grant(conn: asyncpg.Connection, code_id: str) -> str | None:
    found: str | None = await conn.fetchval(
        "SELECT grant_sid FROM oidc_spent_codes WHERE code_id = $1", code_id
    )
    return found


async def grant_of(conn: asyncpg.Connection, sid: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM oidc_grants WHERE sid = $1", sid
    )
    return row


async def forget(conn: asyncpg.Connection, before: datetime) -> None:
    """Spent codes past their life and grants past their session's end are of no more use."""
    await conn.execute("DELETE FROM oidc_spent_codes WHERE expires_at < $1", before)
    await conn.execute("DELETE FROM oidc_grants WHERE session_expires_at < $1", before)


#: Grants whose session ended (revoked itself or through its SSO session, cut off, the
#: employee out of service or gone, or a password-only session the practice no longer
#: allows) and whose client was not yet told, locked for this sweep; ``$1`` how many at most.
ENDED_GRANTS = """
    SELECT g.sid, g.sso_sid, g.client_id, g.practice, g.employee
    FROM oidc_grants g
    LEFT JOIN employees e ON e.practice = g.practice AND e.id = g.employee
    LEFT JOIN session_cutoffs c ON c.practice = g.practice AND c.employee = g.employee
    WHERE g.logout_requested_at IS NULL
      AND (e.id IS NULL OR NOT e.in_service
           OR EXISTS (SELECT 1 FROM revocations r WHERE r.sid IN (g.sid, g.sso_sid))
           OR (c.before IS NOT NULL AND c.before >= g.auth_time))
    ORDER BY g.updated_at
    LIMIT $1
    FOR UPDATE OF g SKIP LOCKED"""


async def ended(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(ENDED_GRANTS, limit)
    return rows


async def logout_requested(conn: asyncpg.Connection, sids: list[str], now: datetime) -> None:
    await conn.execute(
        "UPDATE oidc_grants SET logout_requested_at = $2 WHERE sid = ANY($1::text[])", sids, now
    )
