"""Forgetting what can no longer matter: finished logins, revocations of sessions past their
end, inbox ids no redelivery can repeat, old failed attempts, TOTP steps too old to match,
spent login codes and challenges, fallback uses past their period, cutoffs older than any
session, spent authorization codes and grants past their session's end."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from services.auth.adapters import oidc_store, passkeys, sessions
from services.auth.domain.fallback import WINDOW as FALLBACK_WINDOW
from shared import otp

#: How long a finished or expired row is kept for someone looking into what happened.
GRACE = timedelta(hours=1)


async def forget(
    conn: asyncpg.Connection,
    now: datetime,
    *,
    retention: timedelta,
    failure_memory: timedelta,
    code_window: timedelta,
    session_max: timedelta,
) -> None:
    """``retention``: the topics' (no older event can come again); ``failure_memory``: how
    long a failed attempt counts; ``code_window``: the login codes' send window;
    ``session_max``: the longest session."""
    await conn.execute("DELETE FROM logins WHERE expires_at < $1", now - GRACE)
    await conn.execute("DELETE FROM revocations WHERE session_expires_at < $1", now - GRACE)
    await sessions.forget(conn, now - GRACE)
    await conn.execute("DELETE FROM inbox WHERE processed_at < $1", now - retention)
    await conn.execute("DELETE FROM login_failures WHERE at < $1", now - failure_memory)
    # A step an hour old can never match again (±1 step of drift).
    await conn.execute("DELETE FROM totp_steps WHERE step < $1", otp.time_step(now) - 120)
    await conn.execute(
        "DELETE FROM login_codes WHERE expires_at < $1 AND created_at < $2",
        now - GRACE,
        now - code_window,
    )
    await conn.execute("DELETE FROM fallback_challenges WHERE expires_at < $1", now - GRACE)
    await passkeys.forget_challenges(conn, now - GRACE)
    # Fallback uses count for 30 days.
    await conn.execute(
        "DELETE FROM fallback_uses WHERE at < $1", now - FALLBACK_WINDOW - timedelta(days=1)
    )
    # Codes expire in a minute and grants with their session; an hour on, no event about
    # them is of use either.
    await oidc_store.forget(conn, now - GRACE)
    # A cutoff older than the longest session can no longer revoke anything.
    await conn.execute("DELETE FROM session_cutoffs WHERE before < $1", now - session_max - GRACE)
