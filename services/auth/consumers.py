"""Kafka entry points of auth: directory, credentials, second factors, certificates, keys,
revocations and the other zone's login outcomes (failed attempts, resets, used TOTP steps,
fallback uses), each applied idempotently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from services.auth import clients
from services.auth.adapters import fallbacks, oidc_store, sessions
from services.auth.adapters import repository as repo
from services.auth.adapters.signer import Signer
from services.auth.domain import fallback
from services.auth.domain.clients import CLIENT_EVENT
from services.auth.factors import registry as factor_registry
from services.auth.settings import AuthSettings
from services.auth.use_cases import account_admin, grant_replication
from shared import replicas
from shared.consumer import Handler
from shared.directory_trust import DirectoryTrust
from shared.events import (
    CertificateUpserted,
    Envelope,
    FactorCredential,
    PasswordCredential,
)
from shared.outbox import EventWriter
from shared.sealing import Keyring
from shared.topics import (
    AUTH_CREDENTIALS,
    AUTH_EVENTS,
    CERTS_EVENTS,
    FACTORS,
    STS_KEYS,
    STS_REVOCATIONS,
    Topic,
)
from shared.trust import TrustVerifier


async def on_credential(conn: asyncpg.Connection, event: Envelope) -> None:
    await repo.upsert_credential(
        conn, event.practice, PasswordCredential.model_validate(event.data)
    )


async def on_certificate(conn: asyncpg.Connection, event: Envelope) -> None:
    """A certificate's state from the store (last writer wins), for the fallback login."""
    if event.type == "certificate.upserted":
        body = CertificateUpserted.model_validate(event.data)
        await fallbacks.upsert_certificate(
            conn, event.practice, body, fallback.signing_key(body.certificate_pem)
        )


async def on_factor(conn: asyncpg.Connection, event: Envelope) -> None:
    """A second factor (last writer wins), and what its factor module keeps of it (an
    authenticator's confirmation step is spent)."""
    if event.type != "factor.credential":
        return
    body = FactorCredential.model_validate(event.data)
    for hook in factor_registry.ON_CREDENTIAL:
        await hook(conn, event.practice, body)
    await replicas.upsert_factor(conn, event.practice, body)


#: The other zone's login outcomes, and what its factors spent (used TOTP steps, fallback uses).
REPLICATED_AUTH_EVENTS = frozenset(
    {
        "login.failed",
        "login.succeeded",
        sessions.CONTINUED,
        account_admin.UNLOCKED,
        *factor_registry.REPLICATED,
        oidc_store.GRANTED,
        oidc_store.REFRESHED,
    }
)


def accept(settings: AuthSettings) -> Callable[[Topic, Envelope], bool]:
    """Of ``auth.events``, only the other zone's login outcomes, used TOTP steps and fallback
    uses matter here; of ``certs.events``, the certificates' states (from either zone)."""

    def wanted(topic: Topic, event: Envelope) -> bool:
        if topic == CERTS_EVENTS:
            return event.type == "certificate.upserted"
        if topic != AUTH_EVENTS:
            return True
        return event.zone != settings.zone and event.type in REPLICATED_AUTH_EVENTS

    return wanted


def checked_against(event: Envelope) -> datetime | None:
    """The credential a replicated failure was checked against. One not before the guess (no
    zone checks a guess against a credential from its future) or not a time is taken as none:
    the failure then counts whatever credential replaces it, the safe side."""
    raw = event.data.get("against")
    if not isinstance(raw, str):
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return at if at.tzinfo is not None and at <= event.time else None


def handlers(settings: AuthSettings, signer: Signer) -> dict[Topic, Handler]:
    on_grant = grant_replication.handler(EventWriter(settings))

    async def on_auth_event(conn: asyncpg.Connection, event: Envelope) -> None:
        """Another zone's failed attempts, successful logins, what its factors spent and its
        applications' grants: they converge as sets (a grant's generation as a maximum)."""
        if event.zone == settings.zone:
            return
        if event.type in (oidc_store.GRANTED, oidc_store.REFRESHED):
            await on_grant(conn, event)
            return
        factor_handler = factor_registry.REPLICATED.get(event.type)
        if factor_handler is not None:
            await factor_handler(conn, event)
            return
        username = str(event.data.get("username", ""))
        if event.type == "login.failed":
            against = checked_against(event)
            await repo.add_failure(
                conn, event.practice, username, event.time, event.zone, event.id, against=against
            )
        elif event.type == "login.succeeded":
            await repo.login_succeeded(
                conn, event.practice, event.subject, username, event.time, event.data, event.zone
            )
        elif event.type == sessions.CONTINUED:
            await sessions.record(conn, event.practice, event.subject, event.zone, event.data)
        elif event.type == account_admin.UNLOCKED:
            # An administrator's unlock in the other zone: its failures up to then no longer
            # count here either (its time is bounded by the consumer like every event's).
            await repo.LOGIN_FAILURES.reset(conn, event.practice, username, event.time)

    trust = DirectoryTrust.from_settings(settings)
    on_client = clients.on_client(Keyring.parse(settings.sealing_keys.get_secret_value()))

    async def on_credentials(conn: asyncpg.Connection, event: Envelope) -> None:
        """Employees' passwords, and the relying services registered to introspect."""
        if event.type == CLIENT_EVENT:
            await on_client(conn, event)
        else:
            await on_credential(conn, event)

    return {
        **repo.DIRECTORY.handlers(trust),
        AUTH_CREDENTIALS: on_credentials,
        FACTORS: on_factor,
        STS_KEYS: replicas.on_key(signer, TrustVerifier.parse(settings.trust_public_keys)),
        STS_REVOCATIONS: replicas.on_revocation,
        AUTH_EVENTS: on_auth_event,
        CERTS_EVENTS: on_certificate,
    }
