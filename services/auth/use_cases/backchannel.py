"""Back-Channel Logout 1.0 (docs/adr/0011): every grant whose session ended, for any reason
(its own revocation or its SSO session's, a cutoff from a password change or deactivation, the
employee out of service or gone), gets a logout token posted to its client's registered URI.

A sweep finds them (:data:`~services.auth.adapters.oidc_store.ENDED_GRANTS`) and hands each
to the notifier in the same transaction that marks it asked for: the notifier retries, dead-
letters and counts. Both zones sweep; the request id follows from the grant and the client,
so the notifier delivers one of the two."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.auth.adapters import oidc_store as store
from services.auth.adapters.signer import Signer
from services.auth.metrics import AuthMetrics
from services.auth.use_cases.clients import Clients
from shared import notify
from shared.events import utcnow
from shared.periodic import every
from shared.sealing import Keyring
from shared.settings import Settings
from shared.tokens import LOGOUT_TOKEN_TYPE, SigningAlgorithm

#: The event a logout token carries (Back-Channel Logout 1.0 §2.4).
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: A logout token is valid this long (§2.4: "a short time").
LOGOUT_TOKEN_LIFETIME = timedelta(minutes=2)


@dataclass(frozen=True)
class BackchannelLogouts:
    pool: asyncpg.Pool
    clients: Clients
    signer: Signer
    keyring: Keyring
    settings: Settings
    issuer: str
    metrics: AuthMetrics
    interval_seconds: float
    #: Grants taken per transaction.
    batch: int = 200

    async def run(self) -> None:
        async def sweep() -> None:
            await self.sweep()

        await every(self.interval_seconds, sweep, "backchannel-logouts")

    async def sweep(self) -> int:
        """Ask for the logouts of ended grants, a batch per transaction, until none is left;
        how many were asked for."""
        asked = 0
        while True:
            now = utcnow()
            async with self.pool.acquire() as conn, conn.transaction():
                ended = await store.ended(conn, self.batch)
                for grant in ended:
                    asked += await self._ask(conn, grant, now)
                if ended:
                    await store.logout_requested(conn, [g["sid"] for g in ended], now)
            if len(ended) < self.batch:
                return asked

    async def _ask(self, conn: asyncpg.Connection, grant: asyncpg.Record, now: datetime) -> int:
        client = await self.clients.get(grant["client_id"])
        if client is None or client.backchannel_logout_uri is None:
            return 0
        token = self.logout_token(
            client.client_id, grant["employee"], grant["sso_sid"], client.id_token_alg, now
        )
        request = notify.backchannel_logout(
            self.settings,
            self.keyring,
            grant["practice"],
            grant["sid"],
            client.client_id,
            client.backchannel_logout_uri,
            token,
            now,
        )
        await notify.request_notification(conn, self.settings, request)
        self.metrics.backchannel_logouts.labels(**self.metrics.base()).inc()
        return 1

    def logout_token(
        self, client_id: str, subject: str, sid: str, alg: SigningAlgorithm, now: datetime
    ) -> str:
        """A logout token (§2.4): the session's ``sid`` (the ID token's) and subject, the
        event, no ``nonce``."""
        iat = int(now.timestamp())
        claims = {
            "iss": self.issuer,
            "aud": client_id,
            "iat": iat,
            "exp": iat + int(LOGOUT_TOKEN_LIFETIME.total_seconds()),
            "jti": secrets.token_urlsafe(16),
            "sub": subject,
            "sid": sid,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        return self.signer.sign_jwt(claims, now, alg=alg, typ=LOGOUT_TOKEN_TYPE)
