"""Kafka entry points of the certificate store: the directory (practices and employees: who
administers, who may be granted), public keys and revocations (tokens), and the other zone's
certificates (last writer wins, so both zones converge)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from services.certs.adapters import certificates, directory
from services.certs.settings import CertsSettings
from shared import replicas
from shared.consumer import Handler
from shared.directory_trust import DirectoryTrust
from shared.events import CertificateUpserted, Envelope
from shared.tokens import TokenVerifier
from shared.topics import (
    CERTS_EVENTS,
    STS_KEYS,
    STS_REVOCATIONS,
    Topic,
)
from shared.trust import TrustVerifier


async def on_certificate(conn: asyncpg.Connection, event: Envelope) -> None:
    """Another zone's certificate state (without its key, which never leaves its zone)."""
    if event.type == "certificate.upserted":
        body = CertificateUpserted.model_validate(event.data)
        await certificates.upsert_certificate(conn, event.practice, body)


def accept(settings: CertsSettings) -> Callable[[Topic, Envelope], bool]:
    """Of ``certs.events``, only the other zone's certificate states (this zone applied its
    own in the transaction that wrote them; expiry events are for other readers)."""

    def wanted(topic: Topic, event: Envelope) -> bool:
        if topic != CERTS_EVENTS:
            return True
        return event.zone != settings.zone and event.type == "certificate.upserted"

    return wanted


def handlers(settings: CertsSettings, verifier: TokenVerifier) -> dict[Topic, Handler]:
    return {
        **directory.DIRECTORY.handlers(DirectoryTrust.from_settings(settings)),
        STS_KEYS: replicas.on_key(verifier, TrustVerifier.parse(settings.trust_public_keys)),
        STS_REVOCATIONS: replicas.on_revocation,
        CERTS_EVENTS: on_certificate,
    }
