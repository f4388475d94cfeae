"""This zone's signing keys, one current key per algorithm (EdDSA, RS256): made, rotated,
announced and loaded into the signer; the JWKS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.signer import Signer
from shared import replicas
from shared.events import utcnow
from shared.tokens import SIGNING_ALGORITHMS

#: Serialises key changes of the zone's instances (one makes the new key, all announce).
_LOCK_KEYS = "SELECT pg_advisory_xact_lock(7510421)"


@dataclass(frozen=True)
class Keys:
    pool: asyncpg.Pool
    keystore: KeyStore
    signer: Signer

    async def jwks(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            return {"keys": await replicas.public_keys(conn, utcnow())}

    async def start_keys(self) -> None:
        """At start: make sure this zone has a current key of each algorithm (a key is made
        only when none is, or one is due), announce every live key."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_LOCK_KEYS)
            for alg in SIGNING_ALGORITHMS:
                await self.keystore.ensure_current(conn, now, alg)
            await self.keystore.publish_all(conn, now)
        await self.load_keys()

    async def rotate_if_due(self) -> None:
        """Rotate each algorithm's key that is due; announce the keys when one was."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_LOCK_KEYS)
            changed = [
                await self.keystore.ensure_current(conn, now, alg) for alg in SIGNING_ALGORITHMS
            ]
            if any(changed):
                await self.keystore.publish_all(conn, now)
        await self.load_keys()

    async def load_keys(self) -> None:
        now = utcnow()
        async with self.pool.acquire() as conn:
            self.signer.set_signing_keys(await self.keystore.signing_keys(conn, now))
            self.signer.set_public_keys(await replicas.public_keys(conn, now))
