"""Replicated state several services keep in their own database, with the same tables and
merge rules: every zone's public signing keys (``sts.keys``), revoked sessions and session
cutoffs (``sts.revocations``), and second factors (``factors``, last writer wins).

A service that uses these creates the tables ``public_keys``, ``revocations``,
``session_cutoffs`` and ``factors`` in its migrations with the columns used here (auth's
001/002 and enrolment's 001 do). Every function takes the caller's connection."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from shared.consumer import Handler, InvalidEvent
from shared.events import (
    Envelope,
    FactorCredential,
    RevocationReason,
    SessionRevoked,
    SessionsRevoked,
    SigningKeyPublished,
)
from shared.outbox import EventWriter
from shared.tokens import TokenVerifier
from shared.topics import STS_REVOCATIONS
from shared.trust import TrustVerifier


def _applied(status: str) -> bool:
    return status.endswith(" 1")


async def upsert_public_key(conn: asyncpg.Connection, key: SigningKeyPublished) -> None:
    """A key is immutable but for ``retire_at``, which only comes earlier: a replayed older
    (genuinely signed) announcement cannot bring a retired key back (LEAST skips NULLs)."""
    await conn.execute(
        """INSERT INTO public_keys AS k (kid, zone, jwk, created_at, retire_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (kid) DO UPDATE SET retire_at = least(k.retire_at, EXCLUDED.retire_at)""",
        key.kid,
        key.zone,
        key.jwk,
        key.created_at,
        key.retire_at,
    )


async def public_keys(conn: asyncpg.Connection, now: datetime) -> list[dict[str, Any]]:
    """The JWKs of every key not yet retired at ``now``, oldest first."""
    rows = await conn.fetch(
        "SELECT jwk FROM public_keys WHERE retire_at IS NULL OR retire_at > $1 ORDER BY created_at",
        now,
    )
    return [json.loads(r["jwk"]) if isinstance(r["jwk"], str) else r["jwk"] for r in rows]


async def add_revocation(
    conn: asyncpg.Connection,
    sid: str,
    practice_id: str,
    employee_id: str,
    revoked_at: datetime,
    session_expires_at: datetime,
) -> bool:
    """Revoked sessions are a grow-only set; True if ``sid`` is new to it."""
    status: str = await conn.execute(
        "INSERT INTO revocations (sid, practice, employee, revoked_at, session_expires_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        sid,
        practice_id,
        employee_id,
        revoked_at,
        session_expires_at,
    )
    return _applied(status)


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
    await conn.execute(
        """INSERT INTO session_cutoffs (practice, employee, before) VALUES ($1, $2, $3)
           ON CONFLICT (practice, employee)
           DO UPDATE SET before = greatest(session_cutoffs.before, EXCLUDED.before)""",
        practice_id,
        employee_id,
        before,
    )


async def upsert_factor(conn: asyncpg.Connection, practice: str, ev: FactorCredential) -> bool:
    """Apply a factor credential if newer than the one held (last writer wins by version,
    then time, then zone); True if it was applied."""
    status: str = await conn.execute(
        """INSERT INTO factors AS f (practice, id, employee, kind, sealed, active, created_at,
              confirmed_step, version, updated_at, zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (practice, id) DO UPDATE SET employee = EXCLUDED.employee,
              kind = EXCLUDED.kind, sealed = EXCLUDED.sealed, active = EXCLUDED.active,
              created_at = EXCLUDED.created_at, confirmed_step = EXCLUDED.confirmed_step,
              version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, zone = EXCLUDED.zone
            WHERE (f.version, f.updated_at, f.zone)
                < (EXCLUDED.version, EXCLUDED.updated_at, EXCLUDED.zone)""",
        practice,
        ev.factor,
        ev.employee,
        ev.kind,
        ev.sealed,
        ev.active,
        ev.created_at,
        ev.confirmed_step,
        ev.version,
        ev.updated_at,
        ev.zone,
    )
    return _applied(status)


# -- consumer entry points --------------------------------------------------------------------


def on_key(verifier: TokenVerifier, trust: TrustVerifier) -> Handler:
    """``sts.keys``: keep the key and let ``verifier`` use it at once, if the deployment's
    trust key signed its announcement; anything else is dead-lettered and verifies nothing."""

    async def handle(conn: asyncpg.Connection, event: Envelope) -> None:
        if not trust.verify(event.data):
            raise InvalidEvent("key announcement not signed by the deployment's trust key")
        body = SigningKeyPublished.model_validate(event.data)
        if body.jwk.get("kid") != body.kid:
            raise InvalidEvent("key announcement names two key ids")
        await upsert_public_key(conn, body)
        verifier.add_public_key(body.jwk)

    return handle


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
        await raise_cutoff(conn, event.practice, every.employee, every.before)
