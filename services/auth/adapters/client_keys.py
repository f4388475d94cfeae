"""The public keys of clients that sign their assertions (``private_key_jwt``): fetched from
each client's registered ``jwks_uri``, kept for a while, fetched again (at most once per
``refetch_seconds``) when an assertion names a key not among them (the client rotated)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

#: A client's key set may not be bigger than this (bytes).
MAX_JWKS = 64 * 1024


class KeysUnavailable(Exception):
    """The client's key set could not be fetched or read."""


@dataclass
class ClientKeys:
    #: How long a fetched key set is used without asking again.
    keep_seconds: float
    #: How soon a key set may be fetched again for an unknown key id.
    refetch_seconds: float
    timeout_seconds: float
    _sets: dict[str, tuple[jwt.PyJWKSet, float]] = field(default_factory=dict, init=False)
    _http: aiohttp.ClientSession | None = field(default=None, init=False)

    async def key(self, jwks_uri: str, kid: str | None) -> jwt.PyJWK:
        """The key ``kid`` (or the only key, without a kid) of the set at ``jwks_uri``."""
        now = time.monotonic()
        held = self._sets.get(jwks_uri)
        if held is None or now - held[1] > self.keep_seconds:
            held = await self._fetch(jwks_uri, now)
        found = _pick(held[0], kid)
        if found is None and now - held[1] > self.refetch_seconds:
            found = _pick((await self._fetch(jwks_uri, now))[0], kid)
        if found is None:
            raise KeysUnavailable("no such key in the client's key set")
        return found

    async def _fetch(self, uri: str, now: float) -> tuple[jwt.PyJWKSet, float]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        try:
            async with self._http.get(uri, timeout=timeout, allow_redirects=False) as response:
                if response.status != 200:
                    raise KeysUnavailable(f"{response.status} from the client's jwks_uri")
                raw = await response.content.read(MAX_JWKS + 1)
            if len(raw) > MAX_JWKS:
                raise KeysUnavailable("the client's key set is too big")
            data: Any = json.loads(raw)
            keys = jwt.PyJWKSet.from_dict(data)
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWKSetError) as error:
            raise KeysUnavailable(str(error)) from None
        self._sets[uri] = (keys, now)
        return keys, now

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


def _pick(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((key for key in keys.keys if key.key_id == kid), None)
