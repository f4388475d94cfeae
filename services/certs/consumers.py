"""Kafka entry points of the certificate store: the directory (practices and employees: who
administers, who may be granted), public keys and revocations (tokens), and the other zone's
certificates (last writer wins, so both zones converge)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from services.certs.adapters import repository as repo
from services.certs.settings import CertsSettings
from shared import replicas
from shared.consumer import Handler
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


async def on_practice(conn: asyncpg.Connection, event: Envelope) -> None:
    if event.type == "practice.upserted":
        await repo.upsert_practice(
            conn, event.practice, PracticeUpserted.model_validate(event.data)
        )


async def on_employee(conn: asyncpg.Connection, event: Envelope) -> None:
    """An employee from any writer; one that is not valid is dead-lettered (ValidationError)."""
    if event.type == "employee.upserted":
        await repo.upsert_employee(
            conn, event.practice, EmployeeUpserted.model_validate(event.data)
        )


async def on_certificate(conn: asyncpg.Connection, event: Envelope) -> None:
    """Another zone's certificate state (without its key, which never leaves its zone)."""
    if event.type == "certificate.upserted":
        body = CertificateUpserted.model_validate(event.data)
        await repo.upsert_certificate(conn, event.practice, body)


def accept(settings: CertsSettings) -> Callable[[Topic, Envelope], bool]:
    """Of ``certs.events``, only the other zone's certificate states (this zone applied its
    own in the transaction that wrote them; expiry events are for other readers)."""

    def wanted(topic: Topic, event: Envelope) -> bool:
        if topic != CERTS_EVENTS:
            return True
        return event.zone != settings.zone and event.type == "certificate.upserted"

    return wanted


def handlers(verifier: TokenVerifier) -> dict[Topic, Handler]:
    return {
        DIRECTORY_PRACTICES: on_practice,
        DIRECTORY_EMPLOYEES: on_employee,
        STS_KEYS: replicas.on_key(verifier),
        STS_REVOCATIONS: replicas.on_revocation,
        CERTS_EVENTS: on_certificate,
    }
