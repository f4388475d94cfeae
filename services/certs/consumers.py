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
from shared.directory_trust import DirectoryTrust, admit_employee
from shared.events import CertificateUpserted, EmployeeUpserted, Envelope, PracticeUpserted
from shared.tokens import TokenVerifier
from shared.topics import (
    CERTS_EVENTS,
    DIRECTORY_EMPLOYEES,
    DIRECTORY_PRACTICES,
    STS_KEYS,
    STS_REVOCATIONS,
    Topic,
)
from shared.trust import TrustVerifier


async def on_practice(conn: asyncpg.Connection, event: Envelope) -> None:
    if event.type == "practice.upserted":
        await directory.upsert_practice(
            conn, event.practice, PracticeUpserted.model_validate(event.data)
        )


async def on_employee(conn: asyncpg.Connection, event: Envelope, trust: DirectoryTrust) -> None:
    """An employee from any writer; one that is not valid (ValidationError) or would make an
    administrator without Tweestap's tag is dead-lettered."""
    if event.type == "employee.upserted":
        body = EmployeeUpserted.model_validate(event.data)
        await admit_employee(conn, trust, event.practice, event.data, body)
        await directory.upsert_employee(conn, event.practice, body)


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
    directory_trust = DirectoryTrust.from_settings(settings)

    async def on_directory_employee(conn: asyncpg.Connection, event: Envelope) -> None:
        await on_employee(conn, event, directory_trust)

    return {
        DIRECTORY_PRACTICES: on_practice,
        DIRECTORY_EMPLOYEES: on_directory_employee,
        STS_KEYS: replicas.on_key(verifier, TrustVerifier.parse(settings.trust_public_keys)),
        STS_REVOCATIONS: replicas.on_revocation,
        CERTS_EVENTS: on_certificate,
    }
