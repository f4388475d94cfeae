"""Part ``revocations``: revoked sessions (a grow-only set, table ``revocations``) and every
employee's session cutoff (a max-register, ``session_cutoffs``) from ``sts.revocations``."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from shared import bounds, liveness
from shared.events import Envelope, RevocationReason, SessionRevoked, SessionsRevoked
from shared.outbox import EventWriter
from shared.topics import STS_REVOCATIONS


async def add_revocation(
    conn: asyncpg.Connection,
    sid: str,
    practice_id: str,
    employee_id: str,
    revoked_at: datetime,
    session_expires_at: datetime,
) -> bool:
    """Revoked sessions are a grow-only set; True if ``sid`` is new to it. A session revoked in
    both zones keeps the earliest revocation and the latest end, whichever arrives first (so
    both zones hold the same row)."""
    liveness.writing(sid=sid)
    inserted: bool | None = await conn.fetchval(
        """INSERT INTO revocations AS r (sid, practice, employee, revoked_at, session_expires_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (sid) DO UPDATE
             SET revoked_at = least(r.revoked_at, EXCLUDED.revoked_at),
                 session_expires_at = greatest(r.session_expires_at, EXCLUDED.session_expires_at)
             WHERE EXCLUDED.revoked_at < r.revoked_at
                OR EXCLUDED.session_expires_at > r.session_expires_at
           RETURNING xmax = 0""",
        sid,
        practice_id,
        employee_id,
        revoked_at,
        session_expires_at,
    )
    return bool(inserted)


async def revoke_session(
    writer: EventWriter,
    conn: asyncpg.Connection,
    revoked: SessionRevoked,
    practice_id: str,
    now: datetime,
) -> bool:
    """One session ends: here at once and in every zone and service by ``session.revoked``,
    in the caller's transaction; True if it was not revoked here before (the event is sent
    only then)."""
    fresh = await add_revocation(
        conn, revoked.sid, practice_id, revoked.employee, now, revoked.session_expires_at
    )
    if fresh:
        await writer.emit(
            conn,
            STS_REVOCATIONS,
            "session.revoked",
            practice_id,
            revoked.employee,
            revoked.model_dump(mode="json"),
            now,
        )
    return fresh


async def end_sessions(
    writer: EventWriter,
    conn: asyncpg.Connection,
    practice_id: str,
    employee_id: str,
    now: datetime,
    reason: RevocationReason,
) -> None:
    """Every session of the employee that started until ``now`` ends: here at once (the
    cutoff) and in every zone and service by ``sessions.revoked`` — in the caller's
    transaction (a deactivation, a password change)."""
    revoked = SessionsRevoked(employee=employee_id, before=now, reason=reason)
    await raise_cutoff(conn, practice_id, employee_id, now)
    await writer.emit(
        conn,
        STS_REVOCATIONS,
        "sessions.revoked",
        practice_id,
        employee_id,
        revoked.model_dump(mode="json"),
        now,
    )


async def raise_cutoff(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, before: datetime
) -> None:
    """Sessions of the employee that started at or before ``before`` are over (max-register)."""
    liveness.writing(employee=(practice_id, employee_id))
    await conn.execute(
        """INSERT INTO session_cutoffs (practice, employee, before) VALUES ($1, $2, $3)
           ON CONFLICT (practice, employee)
           DO UPDATE SET before = greatest(session_cutoffs.before, EXCLUDED.before)""",
        practice_id,
        employee_id,
        before,
    )


# -- consumer entry point ---------------------------------------------------------------------


async def on_revocation(conn: asyncpg.Connection, event: Envelope) -> None:
    """``sts.revocations``: one session (``session.revoked``) or every session of an employee
    up to a time (``sessions.revoked``)."""
    if event.type == "session.revoked":
        one = SessionRevoked.model_validate(event.data)
        await add_revocation(
            conn, one.sid, event.practice, one.employee, one.revoked_at, one.session_expires_at
        )
    elif event.type == "sessions.revoked":
        every = SessionsRevoked.model_validate(event.data)
        # A cutoff in the future would end every session started until then (logins to come).
        bounds.check_time("the cutoff", every.before)
        await raise_cutoff(conn, event.practice, every.employee, every.before)
