"""The state and helpers every use case of auth shares: adapters, settings, events, failed
attempts."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters.hasher import Hasher, HasherBusy
from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.signer import Signer
from services.auth.domain import lockout, tokens
from services.auth.domain.records import Credential, Employee, Practice
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared import actors
from shared.events import (
    Envelope,
    PasswordPolicy,
    credential_aad,
)
from shared.gate import TokenGate
from shared.outbox import EventWriter
from shared.problems import unauthorized
from shared.sealing import Keyring
from shared.topics import (
    AUTH_EVENTS,
    Topic,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """A password guess counted (pending) before its verdict."""

    id: uuid.UUID
    practice: str
    key: str
    policy: PasswordPolicy
    at: datetime


@dataclass
class AuthCore(EventWriter):
    """What every use case of auth receives: the adapters, the settings and metrics, the event
    writer, and the counting of failed attempts (one lockout for passwords and second
    factors). Use cases hold it; none inherits it."""

    settings: AuthSettings
    pool: asyncpg.Pool
    hasher: Hasher
    signer: Signer
    keyring: Keyring
    keystore: KeyStore
    metrics: AuthMetrics
    gate: TokenGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = TokenGate(
            self.signer,
            self.pool,
            self.settings.issuer,
            self.settings.token_audience,
            self.settings.leeway_seconds,
            # Introspection answers the username: read with the session's state.
            columns=("username",),
        )

    @property
    def lifetimes(self) -> tokens.Lifetimes:
        return tokens.Lifetimes(
            token=timedelta(seconds=self.settings.token_lifetime_seconds),
            session_max=timedelta(seconds=self.settings.session_max_seconds),
        )

    def grant(self, session: tokens.Session, now: datetime) -> tokens.Grant:
        """The claims of this zone's token for ``session`` at ``now`` (see tokens.grant)."""
        s = self.settings
        return tokens.grant(
            session,
            self.lifetimes,
            s.issuer,
            s.zone,
            now,
            audience=s.token_audience,
            client_id=s.token_client_id,
        )

    def open_credential(self, row: Mapping[str, Any]) -> Credential:
        body = json.loads(
            self.keyring.open(row["sealed"], credential_aad(row["practice"], row["employee"]))
        )
        return Credential(
            hash=body["hash"],
            history=body["history"],
            changed_at=row["changed_at"],
            must_change=row["must_change"],
            strength=row["strength"],
            version=row["version"],
        )

    async def reserve_attempt(
        self, practice_id: str, key: str, policy: PasswordPolicy, now: datetime
    ) -> Attempt:
        """Count a password guess before its verdict (DESIGN §5), serialised per (practice,
        username): refused (429) when locked, else a pending failure row is committed before
        argon2 runs, so at most ``max_attempts`` guesses are ever evaluated in this zone,
        whatever the concurrency, and a crash mid-verify still counts. The lock is held for
        two short statements only, not across the hashing: the second adds the pending row
        and reads the failures before it; when they lock, the transaction rolls back."""
        attempt = Attempt(uuid.uuid4(), practice_id, key, policy, now)
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_attempts(conn, practice_id, key)
            failures, reset_at = await repo.reserve_failure(
                conn, practice_id, key, now, self.settings.zone, attempt.id
            )
            state = lockout.lock_state(failures, reset_at, policy, now)
            if state.locked(now):
                raise problems.locked(state, now)
        return attempt

    async def attempt_failed(self, attempt: Attempt, employee: str | None = None) -> None:
        """The verdict of a reserved guess: wrong (its row settles, ``login.failed``)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self.failure(
                conn,
                attempt.practice,
                attempt.key,
                attempt.policy,
                attempt.at,
                attempt=attempt.id,
                employee=employee,
            )

    async def attempt_passed(self, attempt: Attempt) -> None:
        """The verdict of a reserved guess: right (it was no failure)."""
        async with self.pool.acquire() as conn:
            await repo.drop_failure(conn, attempt.id)

    async def failure(
        self,
        conn: asyncpg.Connection,
        practice_id: str,
        key: str,
        policy: PasswordPolicy,
        now: datetime,
        factor: str | None = None,
        attempt: uuid.UUID | None = None,
        employee: str | None = None,
    ) -> None:
        """One failed attempt for the username (a wrong password or a wrong second factor,
        both count toward the same lockout), in the caller's transaction; ``attempt``: the
        pending row of a reserved guess, settled under its id. ``account.locked`` is emitted
        by the failure that locks, once."""
        await repo.lock_attempts(conn, practice_id, key)
        settled, reset_at = await repo.failures(conn, practice_id, key, settled=True)
        data: dict[str, Any] = {"username": key, "zone": self.settings.zone}
        if factor is not None:
            data["factor"] = factor
        # Audit (NEN 7513): the employee the username names (if any) and the client address.
        actor = actors.actor(employee)
        data.update(employee=employee, actor=actor)
        ids = {} if attempt is None else {"id": attempt}
        event = await self.emit(
            conn, AUTH_EVENTS, "login.failed", practice_id, f"user:{key}", data, now, **ids
        )
        await repo.add_failure(conn, practice_id, key, now, self.settings.zone, event.id)
        who = {"practice": practice_id, "username": key, "factor": factor}
        log.info("login failed: %s", factor or "password", extra=who)
        if lockout.locks(settled, now, reset_at, policy):
            state = lockout.lock_state([*settled, now], reset_at, policy, now)
            until = state.locked_until or now
            self.metrics.lockouts.labels(**self.metrics.base()).inc()
            log.warning("account locked", extra={**who, "locked_until": until.isoformat()})
            await self.emit(
                conn,
                AUTH_EVENTS,
                "account.locked",
                practice_id,
                f"user:{key}",
                {
                    "username": key,
                    "locked_until": until.isoformat(),
                    "employee": employee,
                    "actor": actor,
                },
                now,
            )

    async def serialise_attempts(
        self, conn: asyncpg.Connection, practice: Practice, key: str, now: datetime
    ) -> None:
        """For a second factor verified inside the caller's transaction: serialise the
        username's attempts and check the lockout on failures read under that lock, so the
        check, the verify and the failure it may record are one step."""
        await repo.lock_attempts(conn, practice.id, key)
        failures, reset_at = await repo.failures(conn, practice.id, key)
        state = lockout.lock_state(failures, reset_at, practice.policy, now)
        if state.locked(now):
            raise problems.locked(state, now)

    def outgoing(
        self,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
    ) -> tuple[Topic, Envelope]:
        return topic, self.event(type_, practice, subject, data, now)

    def token_event(
        self, kind: str, session: tokens.Session, grant: tokens.Grant, now: datetime
    ) -> Envelope:
        return self.event(
            kind,
            session.practice,
            session.employee,
            {
                "sid": session.sid,
                "jti": grant.claims["jti"],
                "exp": grant.claims["exp"],
                "amr": list(session.amr),
                "acr": session.acr,
            },
            now,
        )

    async def verify_attempt(self, attempt: Attempt, verdict: Awaitable[bool]) -> bool:
        """The hasher's ``verdict`` on a reserved guess (the caller settles it); one the hasher
        refused (busy, 503) was no guess: its pending row goes, so an overload locks no one."""
        try:
            return await verdict
        except HasherBusy:
            await self.attempt_passed(attempt)
            raise

    async def load_account(
        self, conn: asyncpg.Connection, practice_id: str, employee_id: str
    ) -> tuple[Practice, Employee, Credential]:
        practice = await repo.practice(conn, practice_id)
        employee = await repo.employee(conn, practice_id, employee_id)
        row = await repo.credential_row(conn, practice_id, employee_id)
        if practice is None or employee is None or row is None:
            raise unauthorized("This account no longer exists.")
        return practice, employee, self.open_credential(row)
