"""Replicated state several services keep in their own database, with the same tables and
merge rules: every zone's public signing keys (``sts.keys``), revoked sessions and session
cutoffs (``sts.revocations``), and second factors (``factors``, last writer wins per field).

A service that uses these creates the tables ``public_keys``, ``revocations``,
``session_cutoffs`` and ``factors`` in its migrations with the columns used here (auth's
001/002 and enrolment's 001 do). Every function takes the caller's connection."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from shared import bounds
from shared.consumer import Handler, InvalidEvent
from shared.events import (
    Envelope,
    FactorCredential,
    RevocationReason,
    SessionRevoked,
    SessionsRevoked,
    SigningKeyPublished,
)
from shared.merged_rows import MergedTable
from shared.outbox import EventWriter
from shared.tokens import PublicJwk, TokenVerifier
from shared.topics import STS_REVOCATIONS
from shared.trust import TrustVerifier


async def upsert_public_key(conn: asyncpg.Connection, key: SigningKeyPublished) -> datetime | None:
    """A key is immutable but for ``retire_at``, which only comes earlier: a replayed older
    (genuinely signed) announcement cannot bring a retired key back (LEAST skips NULLs).
    Returns the ``retire_at`` now stored."""
    retire_at: datetime | None = await conn.fetchval(
        """INSERT INTO public_keys AS k (kid, zone, jwk, created_at, retire_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (kid) DO UPDATE SET retire_at = least(k.retire_at, EXCLUDED.retire_at)
           RETURNING retire_at""",
        key.kid,
        key.zone,
        key.jwk,
        key.created_at,
        key.retire_at,
    )
    return retire_at


async def public_keys(conn: asyncpg.Connection, now: datetime) -> list[PublicJwk]:
    """The JWKs of every key not yet retired at ``now``, oldest first, each with its
    ``retire_at`` (a verifier stops trusting it then, without a reload)."""
    rows = await conn.fetch(
        "SELECT jwk, retire_at FROM public_keys WHERE retire_at IS NULL OR retire_at > $1 "
        "ORDER BY created_at",
        now,
    )
    return [
        PublicJwk(json.loads(r["jwk"]) if isinstance(r["jwk"], str) else r["jwk"], r["retire_at"])
        for r in rows
    ]


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


#: Second factors, merged field by field: a deactivation (``active``) survives a concurrent
#: spend of a recovery code in the other zone (which writes only ``sealed`` and ``created_at``).
FACTORS = MergedTable(
    "factors",
    ("practice", "id"),
    ("employee", "kind", "sealed", "active", "created_at", "confirmed_step"),
)


async def upsert_factor(conn: asyncpg.Connection, practice: str, ev: FactorCredential) -> bool:
    """Merge a factor credential into the one held (per field, last writer wins by version,
    then time, then zone); True if anything changed."""
    return await FACTORS.upsert(conn, (practice, ev.factor), FACTORS.state_of(ev))


# -- consumer entry points --------------------------------------------------------------------


def on_key(verifier: TokenVerifier, trust: TrustVerifier) -> Handler:
    """``sts.keys``: keep the key and let ``verifier`` use it at once, if the deployment's
    trust key signed its announcement; anything else is dead-lettered and verifies nothing.
    The verifier trusts it only until its stored ``retire_at``: a key announced already
    retired is kept in the table but verifies nothing (Hardening II finding 16)."""

    async def handle(conn: asyncpg.Connection, event: Envelope) -> None:
        if not trust.verify(event.data):
            raise InvalidEvent("key announcement not signed by the deployment's trust key")
        body = SigningKeyPublished.model_validate(event.data)
        if body.jwk.get("kid") != body.kid:
            raise InvalidEvent("key announcement names two key ids")
        retire_at = await upsert_public_key(conn, body)
        verifier.add_public_key(body.jwk, retire_at)

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
        # A cutoff in the future would end every session started until then (logins to come).
        bounds.check_time("the cutoff", every.before)
        await raise_cutoff(conn, event.practice, every.employee, every.before)
