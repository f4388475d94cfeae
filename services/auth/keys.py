"""This zone's signing keys (made, rotated, announced, loaded into the signer), the JWKS,
and the periodic forgetting of what can no longer matter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.auth.adapters import passkeys
from services.auth.core import AuthCore
from services.auth.domain.fallback import WINDOW as FALLBACK_WINDOW
from shared import otp, replicas
from shared.events import utcnow


@dataclass
class Keys:
    core: AuthCore

    async def jwks(self) -> dict[str, Any]:
        async with self.core.pool.acquire() as conn:
            return {"keys": await replicas.public_keys(conn, utcnow())}

    async def start_keys(self) -> None:
        """At start: make sure this zone has a current key, announce every live key."""
        now = utcnow()
        async with self.core.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7510421)")
            await self.core.keystore.ensure_current(conn, now)
            await self.core.keystore.publish_all(conn, now)
        await self.load_keys()

    async def rotate_if_due(self) -> None:
        now = utcnow()
        async with self.core.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7510421)")
            if await self.core.keystore.ensure_current(conn, now):
                await self.core.keystore.publish_all(conn, now)
        await self.load_keys()

    async def load_keys(self) -> None:
        now = utcnow()
        async with self.core.pool.acquire() as conn:
            self.core.signer.set_signing_keys(await self.core.keystore.signing_keys(conn, now))
            self.core.signer.set_public_keys(await replicas.public_keys(conn, now))


@dataclass
class Housekeeping:
    core: AuthCore

    async def housekeeping(self) -> None:
        """Delete finished logins, revocations of sessions past their end, inbox ids older than
        the broker's retention (no redelivery can come after that), TOTP steps too old to
        match, spent login codes and fallback nonces, fallback uses past their 30 days and cutoffs
        older than any session."""
        now = utcnow()
        retention = timedelta(milliseconds=self.core.settings.topics.retention_ms)
        async with self.core.pool.acquire() as conn:
            await conn.execute("DELETE FROM logins WHERE expires_at < $1", now - timedelta(hours=1))
            await conn.execute(
                "DELETE FROM revocations WHERE session_expires_at < $1", now - timedelta(hours=1)
            )
            await conn.execute("DELETE FROM inbox WHERE processed_at < $1", now - retention)
            await conn.execute(
                "DELETE FROM login_failures WHERE at < $1",
                now - timedelta(hours=self.core.settings.failure_memory_hours),
            )
            # A step an hour old can never match again (±1 step of drift).
            await conn.execute("DELETE FROM totp_steps WHERE step < $1", otp.time_step(now) - 120)
            window = timedelta(seconds=self.core.settings.otp_send_window_seconds)
            await conn.execute(
                "DELETE FROM login_codes WHERE expires_at < $1 AND created_at < $2",
                now - timedelta(hours=1),
                now - window,
            )
            await conn.execute(
                "DELETE FROM fallback_challenges WHERE expires_at < $1", now - timedelta(hours=1)
            )
            await passkeys.forget_challenges(conn, now - timedelta(hours=1))
            # Fallback uses count for 30 days.
            await conn.execute(
                "DELETE FROM fallback_uses WHERE at < $1",
                now - FALLBACK_WINDOW - timedelta(days=1),
            )
            # A cutoff older than the longest session can no longer revoke anything.
            await conn.execute(
                "DELETE FROM session_cutoffs WHERE before < $1",
                now - self.core.lifetimes.session_max - timedelta(hours=1),
            )
