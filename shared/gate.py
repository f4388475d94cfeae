"""Accepting bearer tokens in any service: offline verification against every zone's public
keys (kept from ``sts.keys`` in the service's ``public_keys``), reloading them from the
database when a token names a key this process has not seen yet."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from shared.events import utcnow
from shared.problems import unauthorized
from shared.replicas import public_keys
from shared.tokens import InvalidToken, TokenVerifier, UnknownKey

#: Reload the keys at most this often, so tokens with made-up key ids cannot load the database.
RELOAD_INTERVAL_SECONDS = 1.0


class TokenGate:
    def __init__(
        self, verifier: TokenVerifier, pool: asyncpg.Pool, issuer: str, leeway_seconds: int
    ) -> None:
        self.verifier = verifier
        self.pool = pool
        self.issuer = issuer
        self.leeway_seconds = leeway_seconds
        self._loaded_at = float("-inf")

    async def load_keys(self) -> None:
        async with self.pool.acquire() as conn:
            self.verifier.set_public_keys(await public_keys(conn, utcnow()))

    async def refresh_keys(self) -> None:
        if time.monotonic() - self._loaded_at < RELOAD_INTERVAL_SECONDS:
            return
        self._loaded_at = time.monotonic()
        await self.load_keys()

    async def claims(self, token: str) -> dict[str, Any]:
        """Claims of a token signed by either zone's auth; a 401 problem otherwise."""
        try:
            try:
                return self.verifier.verify(token, self.issuer, self.leeway_seconds)
            except UnknownKey:
                # Another zone's new key may have reached the database before this process.
                await self.refresh_keys()
                return self.verifier.verify(token, self.issuer, self.leeway_seconds)
        except InvalidToken as exc:
            raise unauthorized(f"Token not accepted: {exc}.") from None
