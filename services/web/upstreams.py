"""Which logins through an upstream OpenID Provider (Dezi) this deployment has, as auth says
(``GET /v1/upstream``): the login page offers "Inloggen met Dézi", and the factors page the
link, only when auth has Dezi configured (docs/adr/0014). The web has no Dezi setting of its
own, so the two cannot disagree.

Auth is asked at most every :data:`KEEP_SECONDS` per web process, and by one request at a time
(the others use what is known); when it cannot be asked, the last answer stands and it is
asked again after :data:`RETRY_SECONDS` (before any answer: no link, for a login that could
not start anyway)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from tweestap_client import ZonesUnavailable

from services.web.oidc.calls import relaying

KEEP_SECONDS = 60.0
RETRY_SECONDS = 5.0
PATH = "/v1/upstream"

Ask = Callable[[], Awaitable[frozenset[str] | None]]


@dataclass
class UpstreamLogins:
    """The providers auth last named (their ids, e.g. ``dezi``), kept a while."""

    keep_seconds: float = KEEP_SECONDS
    retry_seconds: float = RETRY_SECONDS
    clock: Callable[[], float] = time.monotonic
    _providers: frozenset[str] = frozenset()
    _due: float = float("-inf")
    _asking: asyncio.Lock = field(default_factory=asyncio.Lock)

    def known(self) -> frozenset[str]:
        """The providers as last answered (for a page that was not the first to ask)."""
        return self._providers

    async def current(self, ask: Ask) -> frozenset[str]:
        """The providers, asked anew with ``ask`` (None: no answer) when the last answer is
        old and nobody else is asking."""
        if self.clock() < self._due or self._asking.locked():
            return self._providers
        async with self._asking:
            found = await ask()
            if found is not None:
                self._providers = found
            wait = self.keep_seconds if found is not None else self.retry_seconds
            self._due = self.clock() + wait
        return self._providers


UPSTREAM_LOGINS = web.AppKey("upstream_logins", UpstreamLogins)


def _ids(body: object) -> frozenset[str] | None:
    listed = body.get("providers") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        return None
    return frozenset(
        str(p["id"]) for p in listed if isinstance(p, dict) and isinstance(p.get("id"), str)
    )


async def providers(request: web.Request) -> frozenset[str]:
    """The upstream providers a login may use (``"dezi" in …``), for this request's page."""

    async def ask() -> frozenset[str] | None:
        try:
            async with relaying(request) as client:
                answer = await client.relay("GET", PATH, repeatable=True)
        except ZonesUnavailable:
            return None
        return _ids(answer.body) if answer.status == 200 else None

    return await request.app[UPSTREAM_LOGINS].current(ask)
