"""Each employee's sessions, where and since when (issue 25): written with a login in this
zone and from the other zone's ``login.succeeded``; live while neither revoked, cut off nor
past their end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.domain import tokens


@dataclass(frozen=True)
class SessionRow:
    sid: str
    zone: str
    address: str | None
    client_id: str | None
    started_at: datetime
    expires_at: datetime


async def record(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, zone: str, data: dict[str, Any]
) -> None:
    """A login's session from its ``login.succeeded`` data (``sid``, ``session_started_at``,
    ``session_expires_at``, ``client_id``, ``actor.address``); an event from before these
    fields records nothing. Once per ``sid`` (redeliveries are harmless)."""
    sid, started, expires = (
        data.get("sid"),
        data.get("session_started_at"),
        data.get("session_expires_at"),
    )
    if not (isinstance(sid, str) and started and expires):
        return
    actor = data.get("actor")
    address = actor.get("address") if isinstance(actor, dict) else None
    await conn.execute(
        """INSERT INTO sessions
               (sid, practice, employee, zone, address, client_id, started_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sid) DO NOTHING""",
        sid,
        practice_id,
        employee_id,
        zone,
        address if isinstance(address, str) else None,
        data.get("client_id"),
        _time(started),
        _time(expires),
    )


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


async def live(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, now: datetime
) -> list[SessionRow]:
    """The employee's sessions neither revoked, cut off (started at or before the cutoff) nor
    ended, newest first."""
    rows = await conn.fetch(
        """SELECT s.sid, s.zone, s.address, s.client_id, s.started_at, s.expires_at
             FROM sessions s
             LEFT JOIN session_cutoffs c ON c.practice = s.practice AND c.employee = s.employee
            WHERE s.practice = $1 AND s.employee = $2 AND s.expires_at > $3
              AND s.started_at > coalesce(c.before, '-infinity')
              AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.sid = s.sid)
            ORDER BY s.started_at DESC, s.sid""",
        practice_id,
        employee_id,
        now,
    )
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
