"""Each employee's sessions, where and since when (issue 25): written with a login in this
zone and from the other zone's ``login.succeeded``, and for a session that goes on from
another without a login (a password change's) with ``session.continued``; live while neither
revoked, cut off nor past their end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.domain import tokens


@dataclass(frozen=True)
class SessionRow:
    sid: str
    #: An application's grant whose login is not known here: none.
    zone: str | None
    address: str | None
    client_id: str | None
    started_at: datetime
    expires_at: datetime


def session_cte(source: str, practice: str, employee: str, zone: str, data: str) -> str:
    """SQL: the CTE ``session`` of a larger statement (a login's own, so that recording its
    session costs no round trip) that records the session a ``login.succeeded``'s ``data`` (a
    jsonb expression: ``sid``, ``session_started_at``, ``session_expires_at``, ``client_id``,
    ``actor.address``) describes, when the CTE ``source`` has a row; data from before these
    fields records nothing. Once per ``sid`` (redeliveries are harmless)."""
    return f"""session AS (
               INSERT INTO sessions
                   (sid, practice, employee, zone, address, client_id, started_at, expires_at)
               SELECT d->>'sid', {practice}, {employee}, {zone}, d->'actor'->>'address',
                      d->>'client_id', (d->>'session_started_at')::timestamptz,
                      (d->>'session_expires_at')::timestamptz
               FROM (SELECT {data} AS d) AS given
               WHERE EXISTS (SELECT 1 FROM {source})
                 AND d ?& array['sid', 'session_started_at', 'session_expires_at']
               ON CONFLICT (sid) DO NOTHING
               RETURNING 1)"""  # noqa: S608 - every part is code's


#: The event of a session that goes on from another without a login (a password change ends
#: every session and the caller goes on in a new one): its data as ``login.succeeded``'s.
CONTINUED = "session.continued"

_RECORD = (
    "WITH given AS (SELECT 1), " + session_cte("given", "$1", "$2", "$3", "$4::jsonb") + " SELECT 1"
)


async def record(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, zone: str, data: dict[str, Any]
) -> None:
    """The session ``data`` describes (:func:`fields` and ``actor``), made in ``zone``."""
    await conn.execute(_RECORD, practice_id, employee_id, zone, data)


#: The employee's logins, and the applications' grants (OpenID Connect) from them: where and
#: in which zone as their login's; each live while neither it nor its login is revoked, cut off
#: or ended (as :data:`oidc_store.ENDED_GRANTS` has a grant end).
_LIVE = """
    WITH cutoff AS (
        SELECT coalesce(max(before), '-infinity') AS before FROM session_cutoffs
         WHERE practice = $1 AND employee = $2)
    SELECT s.sid, s.zone, s.address, s.client_id, s.started_at, s.expires_at
      FROM sessions s, cutoff c
     WHERE s.practice = $1 AND s.employee = $2 AND s.expires_at > $3
       AND s.started_at > c.before
       AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.sid = s.sid)
    UNION ALL
    SELECT g.sid, l.zone, l.address, g.client_id, g.auth_time, g.session_expires_at
      FROM oidc_grants g
      LEFT JOIN sessions l ON l.sid = g.sso_sid, cutoff c
     WHERE g.practice = $1 AND g.employee = $2 AND g.session_expires_at > $3
       AND g.auth_time > c.before
       AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.sid IN (g.sid, g.sso_sid))
     ORDER BY started_at DESC, client_id NULLS FIRST, sid"""


async def live(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, now: datetime
) -> list[SessionRow]:
    """The employee's live sessions, its applications' too, newest first (a login before
    the applications' sessions it began)."""
    rows = await conn.fetch(_LIVE, practice_id, employee_id, now)
    return [SessionRow(**dict(row)) for row in rows]


async def forget(conn: asyncpg.Connection, before: datetime) -> None:
    """Sessions ended before ``before``."""
    await conn.execute("DELETE FROM sessions WHERE expires_at < $1", before)


def fields(session: tokens.Session, expires_at: datetime) -> dict[str, Any]:
    """What ``login.succeeded`` carries of its session, for :func:`record` in every zone."""
    return {
        "sid": session.sid,
        "session_started_at": session.auth_time.isoformat(),
        "session_expires_at": expires_at.isoformat(),
        "client_id": session.client_id,
    }
