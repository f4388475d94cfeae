"""Kafka entry points of auth: directory, credentials, keys, revocations and the other zone's
login outcomes (failed attempts and resets), each applied idempotently."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from asyncpg.exceptions import UniqueViolationError

from services.auth.adapters import repository as repo
from services.auth.adapters.signer import Signer
from services.auth.settings import AuthSettings
from shared.consumer import Handler, InvalidEvent
from shared.events import (
    EmployeeUpserted,
    Envelope,
    PasswordCredential,
    PracticeUpserted,
    SessionRevoked,
    SigningKeyPublished,
)
from shared.topics import (
    AUTH_CREDENTIALS,
    AUTH_EVENTS,
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
    if event.type != "employee.upserted":
        return
    body = EmployeeUpserted.model_validate(event.data)
    try:
        async with conn.transaction():
            await repo.upsert_employee(conn, event.practice, body)
    except UniqueViolationError:
        raise InvalidEvent(f"username {body.username!r} is taken in this practice") from None


async def on_credential(conn: asyncpg.Connection, event: Envelope) -> None:
    await repo.upsert_credential(
        conn, event.practice, PasswordCredential.model_validate(event.data)
    )


async def on_revocation(conn: asyncpg.Connection, event: Envelope) -> None:
    body = SessionRevoked.model_validate(event.data)
    await repo.add_revocation(
        conn, body.sid, event.practice, body.employee, body.revoked_at, body.session_expires_at
    )


REPLICATED_AUTH_EVENTS = frozenset({"login.failed", "login.succeeded"})


def accept(settings: AuthSettings) -> Callable[[Topic, Envelope], bool]:
    """Of ``auth.events``, only the other zone's login outcomes matter here."""

    def wanted(topic: Topic, event: Envelope) -> bool:
        if topic != AUTH_EVENTS:
            return True
        return event.zone != settings.zone and event.type in REPLICATED_AUTH_EVENTS

    return wanted


def handlers(settings: AuthSettings, signer: Signer) -> dict[Topic, Handler]:
    async def on_key(conn: asyncpg.Connection, event: Envelope) -> None:
        body = SigningKeyPublished.model_validate(event.data)
        await repo.upsert_public_key(
            conn, body.kid, body.zone, body.jwk, body.created_at, body.retire_at
        )
        signer.add_public_key(body.jwk)

    async def on_auth_event(conn: asyncpg.Connection, event: Envelope) -> None:
        """Another zone's failed attempts and successful logins: counters converge as sets."""
        if event.zone == settings.zone:
            return
        username = str(event.data.get("username", ""))
        if event.type == "login.failed":
            await repo.add_failure(conn, event.practice, username, event.time, event.zone, event.id)
        elif event.type == "login.succeeded":
            await repo.reset_failures(conn, event.practice, username, event.time)
            await repo.record_login(conn, event.practice, event.subject, event.time)

    return {
        DIRECTORY_PRACTICES: on_practice,
        DIRECTORY_EMPLOYEES: on_employee,
        AUTH_CREDENTIALS: on_credential,
        STS_KEYS: on_key,
        STS_REVOCATIONS: on_revocation,
        AUTH_EVENTS: on_auth_event,
    }
