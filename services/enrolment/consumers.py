"""Kafka entry points of the enrolment service: the directory (practices, employees, from any
writer: this service in either zone, ``tweestap bootstrap``, host systems), factors, public
keys and revocations, each applied idempotently (inbox) and by last writer wins or union."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from services.enrolment.adapters import repository as repo
from services.enrolment.settings import EnrolmentSettings
from shared import replicas
from shared.consumer import Handler
from shared.directory_trust import DirectoryTrust
from shared.events import (
    Envelope,
    FactorCredential,
)
from shared.tokens import TokenVerifier
from shared.topics import (
    ENROLMENT_EVENTS,
    FACTORS,
    STS_KEYS,
    STS_REVOCATIONS,
    Topic,
)
from shared.trust import TrustVerifier

#: The other zone's wizard outcomes that this zone must know: failed identity checks and
#: blocks count per employee in both zones; a passed check and a deactivation reset them.
REPLICATED_ENROLMENT_EVENTS = frozenset(
    {"identity.failed", "enrolment.blocked", "identity.verified", "factor.deactivated"}
)


async def on_enrolment_event(conn: asyncpg.Connection, event: Envelope) -> None:
    """Another zone's wizard outcome (the subject is the employee)."""
    practice, employee = event.practice, event.subject
    if event.type == "identity.failed":
        await repo.add_identity_failure(conn, event.id, practice, employee, event.time, event.zone)
    elif event.type == "enrolment.blocked":
        await repo.add_block(conn, event.id, practice, employee, event.time, event.zone)
    elif event.type in ("identity.verified", "factor.deactivated"):
        await repo.reset_identity(conn, practice, employee, event.time)


def accept(settings: EnrolmentSettings) -> Callable[[Topic, Envelope], bool]:
    """Of ``enrolment.events``, only the other zone's outcomes above (this zone applied its
    own in the transaction that wrote them)."""

    def wanted(topic: Topic, event: Envelope) -> bool:
        if topic != ENROLMENT_EVENTS:
            return True
        return event.zone != settings.zone and event.type in REPLICATED_ENROLMENT_EVENTS

    return wanted


async def on_factor(conn: asyncpg.Connection, event: Envelope) -> None:
    if event.type == "factor.credential":
        body = FactorCredential.model_validate(event.data)
        await replicas.upsert_factor(conn, event.practice, body)


def handlers(settings: EnrolmentSettings, verifier: TokenVerifier) -> dict[Topic, Handler]:
    trust = DirectoryTrust.from_settings(settings)
    return {
        **repo.DIRECTORY.handlers(trust),
        FACTORS: on_factor,
        STS_KEYS: replicas.on_key(verifier, TrustVerifier.parse(settings.trust_public_keys)),
        STS_REVOCATIONS: replicas.on_revocation,
        ENROLMENT_EVENTS: on_enrolment_event,
    }
