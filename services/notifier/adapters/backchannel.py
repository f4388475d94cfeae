"""OpenID Connect Back-Channel Logout 1.0 (§2.5): a logout token POSTed to a client's
back-channel logout URI as ``application/x-www-form-urlencoded`` ``logout_token=…``, with a
short timeout and no redirects followed; the answer classified by
:func:`~services.notifier.domain.delivery.backchannel_status`.

Neither the token nor the URI's path or query is ever logged or put in a failure's detail:
only the URI's host."""

from __future__ import annotations

import logging

import aiohttp

from services.notifier.domain.delivery import (
    backchannel_status,
    retry_after_seconds,
    transient,
    uri_host,
)
from services.notifier.settings import NotifierSettings
from shared.events import LOGOUT_TOKEN, utcnow

log = logging.getLogger(__name__)


class BackchannelClient:
    """One HTTP session for every client's back-channel logout URI."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.backchannel_timeout_seconds),
            # No cookies kept from one client's answer for another's request.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def send(self, uri: str, logout_token: str, reference: str) -> None:
        """Deliver or raise DeliveryError (transient or permanent)."""
        host = uri_host(uri)
        try:
            async with self.session.post(
                uri,
                data={LOGOUT_TOKEN: logout_token},  # form-encoded
                allow_redirects=False,
                headers={"Accept": "application/json", "X-Tweestap-Request": reference},
            ) as response:
                status = response.status
                retry_after = retry_after_seconds(response.headers.get("Retry-After"), utcnow())
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("back-channel logout %s to %s: %s", reference, host, type(exc).__name__)
            raise transient("backchannel-unavailable", type(exc).__name__) from None
        error = backchannel_status(status, retry_after)
        if error is not None:
            log.info("back-channel logout %s to %s: answered %d", reference, host, status)
            raise error

    async def close(self) -> None:
        await self.session.close()
