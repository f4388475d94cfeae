"""This zone's signing keys in PostgreSQL (sealed), their rotation, and publication of the
public halves to ``sts.keys``, each announcement signed with the deployment's trust key.

Each algorithm (EdDSA, RS256) has its own current key, rotated and retired on the same rules;
a row without an algorithm (stored before RS256 keys existed) is an Ed25519 key (migration
012)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import asyncpg

from services.auth.adapters.signer import ALGORITHM, SigningAlgorithm, SigningKey
from services.auth.settings import AuthSettings
from shared import replicas
from shared.events import Envelope, SigningKeyPublished
from shared.outbox import publish
from shared.sealing import Keyring
from shared.topics import STS_KEYS
from shared.trust import TrustKeyError, TrustSigner, TrustVerifier

_AAD = "signing-key:{kid}"
log = logging.getLogger(__name__)


class KeyStore:
    def __init__(self, settings: AuthSettings, keyring: Keyring) -> None:
        self.settings = settings
        self.keyring = keyring
        self._trust: TrustSigner | None = None

    def trust(self) -> TrustSigner:
        """The trust key signer; refuses a private half whose public half the services are not
        configured with (every consumer would dead-letter this zone's keys)."""
        if self._trust is None:
            signer = TrustSigner(self.settings.trust_private_key.get_secret_value())
            if not TrustVerifier.parse(self.settings.trust_public_keys).trusts(signer.public):
                raise TrustKeyError(
                    "TWEESTAP_TRUST_PRIVATE_KEY does not match TWEESTAP_TRUST_PUBLIC_KEYS"
                )
            self._trust = signer
        return self._trust

    def _opened(self, row: asyncpg.Record) -> SigningKey:
        raw = self.keyring.open(row["sealed"], _AAD.format(kid=row["kid"]))
        return SigningKey.from_private_bytes(row["kid"], raw, row["not_before"], row["alg"])

    async def signing_keys(self, conn: asyncpg.Connection, now: datetime) -> list[SigningKey]:
        """Every live key of this zone, of every algorithm."""
        rows = await conn.fetch(
            "SELECT kid, alg, sealed, not_before FROM signing_keys "
            "WHERE retire_at IS NULL OR retire_at > $1 ORDER BY not_before",
            now,
        )
        return [self._opened(r) for r in rows]

    async def ensure_current(
        self, conn: asyncpg.Connection, now: datetime, alg: SigningAlgorithm = ALGORITHM
    ) -> bool:
        """Create the first key of ``alg``, or rotate when its newest is older than the
        rotation period; otherwise generate nothing.

        The new key signs only after the publish lead; the old one is retired once every token
        it could have signed has expired. Returns True when keys changed (publish them)."""
        newest = await conn.fetchrow(
            "SELECT kid, not_before FROM signing_keys WHERE retire_at IS NULL AND alg = $1 "
            "ORDER BY not_before DESC LIMIT 1",
            alg,
        )
        if newest is not None and now - newest["not_before"] < timedelta(
            days=self.settings.key_rotation_days
        ):
            return False
        lead = timedelta(seconds=self.settings.key_publish_lead_seconds if newest else 0)
        # An RSA key takes 50-200 ms: made in a thread (OpenSSL lets the event loop run).
        key = await asyncio.to_thread(SigningKey.generate, self.settings.zone, now + lead, alg)
        await conn.execute(
            "INSERT INTO signing_keys (kid, alg, sealed, not_before, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            key.kid,
            key.alg,
            self.keyring.seal(key.private_bytes(), _AAD.format(kid=key.kid)),
            key.not_before,
            now,
        )
        if newest is not None:
            retire_at = key.not_before + timedelta(
                seconds=self.settings.session_max_seconds + self.settings.leeway_seconds
            )
            await conn.execute(
                "UPDATE signing_keys SET retire_at = $2 WHERE kid = $1", newest["kid"], retire_at
            )
        log.info(
            "%s signing key %s %s, signs from %s",
            key.alg,
            key.kid,
            "rotated in" if newest else "created",
            key.not_before.isoformat(),
            extra={
                "kid": key.kid,
                "alg": key.alg,
                "service": self.settings.service,
                "zone": self.settings.zone,
                "previous": newest["kid"] if newest else None,
            },
        )
        return True

    async def publish_all(self, conn: asyncpg.Connection, now: datetime) -> None:
        """Announce every live key of this zone, of every algorithm (at start, since the
        broker may be new), signed with the trust key."""
        trust = self.trust()
        rows = await conn.fetch(
            "SELECT kid, alg, sealed, not_before, retire_at, created_at FROM signing_keys "
            "WHERE retire_at IS NULL OR retire_at > $1",
            now,
        )
        for r in rows:
            key = self._opened(r)
            body = SigningKeyPublished(
                kid=key.kid,
                zone=self.settings.zone,
                jwk=key.public_jwk(),
                created_at=r["created_at"],
                retire_at=r["retire_at"],
            )
            await replicas.upsert_public_key(conn, body)
            await publish(
                conn,
                self.settings,
                STS_KEYS,
                Envelope(
                    type="sts.key.published",
                    source=self.settings.source,
                    practice="*",
                    subject=key.kid,
                    time=now,
                    data=trust.sign(body.model_dump(mode="json")),
                ),
            )
