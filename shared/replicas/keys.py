"""Part ``keys``: every zone's public signing keys from ``sts.keys`` (table ``public_keys``),
Ed25519 (EdDSA) and RSA (RS256) alike, accepted only when the deployment's trust key signed the
announcement and the key is one auth signs with, and never at or after a key's
``retire_at``."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from shared.consumer import Handler, InvalidEvent
from shared.events import Envelope, SigningKeyPublished
from shared.tokens import PublicJwk, TokenVerifier, UnsupportedKey, verification_key
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


# -- consumer entry point ---------------------------------------------------------------------


def on_key(verifier: TokenVerifier, trust: TrustVerifier) -> Handler:
    """``sts.keys``: keep the key and let ``verifier`` use it at once, if the deployment's
    trust key signed its announcement and it is an Ed25519 key for EdDSA or an RSA key of at
    least 2048 bits for RS256; anything else is dead-lettered and verifies nothing.
    The verifier trusts it only until its stored ``retire_at``: a key announced already
    retired is kept in the table but verifies nothing (Hardening II finding 16)."""

    async def handle(conn: asyncpg.Connection, event: Envelope) -> None:
        if not trust.verify(event.data):
            raise InvalidEvent("key announcement not signed by the deployment's trust key")
        body = SigningKeyPublished.model_validate(event.data)
        if body.jwk.get("kid") != body.kid:
            raise InvalidEvent("key announcement names two key ids")
        try:
            verification_key(body.jwk)
        except UnsupportedKey as exc:
            raise InvalidEvent(f"key announcement: {exc}") from None
        retire_at = await upsert_public_key(conn, body)
        verifier.add_public_key(body.jwk, retire_at)

    return handle
