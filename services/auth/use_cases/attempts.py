"""Counting guesses toward the lockout (DESIGN §5): one lockout for passwords and second
factors, exact within a zone whatever the concurrency. A password guess is reserved (counted
pending) before argon2 runs and settled by its verdict; a second factor is checked, verified
and recorded under the username's lock in the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters.hasher import HasherBusy
from services.auth.domain import lockout
from services.auth.domain.records import Practice
from services.auth.metrics import AuthMetrics
from shared import actors
from shared.events import PasswordPolicy
from shared.outbox import EventWriter
from shared.problems import not_evaluated
from shared.topics import AUTH_EVENTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """A password guess counted (pending) before its verdict."""

    id: uuid.UUID
    practice: str
    key: str
    policy: PasswordPolicy
    at: datetime
    #: The credential (its ``changed_at``) the guess is checked against, None when there is
    #: none (an unknown username, a reused-password check).
    against: datetime | None = None


@dataclass(frozen=True)
class Attempts:
    pool: asyncpg.Pool
    events: EventWriter
    metrics: AuthMetrics
    zone: str

    async def reserve(
        self,
        practice_id: str,
        key: str,
        policy: PasswordPolicy,
        now: datetime,
        against: datetime | None = None,
    ) -> Attempt:
        """Count a password guess before its verdict, serialised per (practice, username):
        refused (429) when locked, else a pending failure row is committed before argon2 runs,
        so at most ``max_attempts`` guesses are ever evaluated in this zone, whatever the
        concurrency, and a crash mid-verify still counts. The lock is held for one statement
        only (its own transaction), not across the hashing: it takes the lock, reads the
        failures and adds the pending row. When they lock, the pending row goes again: until
        then it is one more guess in flight to a concurrent attempt, inside the lockout it
        found (so it moves no lockout), as a guess refused by a busy hasher is. Only settled
        failures lock (429); when guesses still in flight fill the lockout, the guess is
        answered 503 ``not-evaluated`` with ``Retry-After`` (the SDK comes back), since they
        may all be right. ``against``: the credential the guess is checked against; once a
        newer one from before the guess is known, the failure no longer counts (a zone not yet
        told of a new password checked it against the old one; migration 024)."""
        attempt = Attempt(uuid.uuid4(), practice_id, key, policy, now, against)
        async with self.pool.acquire() as conn:
            reserved = await repo.reserve_failure(
                conn, practice_id, key, now, self.zone, attempt.id, against
            )
            await self.admit(conn, attempt, reserved)
        return attempt

    async def admit(
        self, conn: asyncpg.Connection, attempt: Attempt, reserved: repo.Reserved
    ) -> None:
        """Judge a guess ``reserved`` (:func:`repo.reserve_failure`, or with the login's view)
        by its policy: the pending row dropped again and 429 or 503 when the username is
        locked, as :meth:`reserve` says."""
        failures, settled, reset_at = reserved
        state = lockout.lock_state(failures, reset_at, attempt.policy, attempt.at)
        if state.locked(attempt.at):
            await repo.drop_failure(conn, attempt.id)
            verdicts = lockout.lock_state(settled, reset_at, attempt.policy, attempt.at)
            if verdicts.locked(attempt.at):
                raise problems.locked(verdicts, attempt.at)
            # Only guesses still being checked fill the lockout: they may all be right.
            raise not_evaluated(
                "Other attempts for this username are still being checked; try again."
            )

    async def verify(self, attempt: Attempt, verdict: Awaitable[bool]) -> bool:
        """The hasher's ``verdict`` on a reserved guess (the caller settles it); one the hasher
        refused (busy, 503) was no guess: its pending row goes, so an overload locks no one."""
        try:
            return await verdict
        except HasherBusy:
            await self.passed(attempt)
            raise

    async def failed(self, attempt: Attempt, employee: str | None = None) -> None:
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
                against=attempt.against,
            )

    async def passed(self, attempt: Attempt) -> None:
        """The verdict of a reserved guess: right (it was no failure)."""
        async with self.pool.acquire() as conn:
            await repo.drop_failure(conn, attempt.id)

    async def serialise(
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
        against: datetime | None = None,
    ) -> None:
        """One failed attempt for the username (a wrong password or a wrong second factor,
        both count toward the same lockout), in the caller's transaction; ``attempt``: the
        pending row of a reserved guess, settled under its id. ``account.locked`` is emitted
        by the failure that locks, once."""
        await repo.lock_attempts(conn, practice_id, key)
        settled, reset_at = await repo.failures(conn, practice_id, key, settled=True)
        data: dict[str, Any] = {"username": key, "zone": self.zone}
        if factor is not None:
            data["factor"] = factor
        if against is not None:
            data["against"] = against.isoformat()
        # Audit (NEN 7513): the employee the username names (if any) and the client address.
        actor = actors.actor(employee)
        data.update(employee=employee, actor=actor)
        ids = {} if attempt is None else {"id": attempt}
        event = await self.events.emit(
            conn, AUTH_EVENTS, "login.failed", practice_id, f"user:{key}", data, now, **ids
        )
        await repo.add_failure(conn, practice_id, key, now, self.zone, event.id, against=against)
        who = {"practice": practice_id, "username": key, "factor": factor}
        log.info("login failed: %s", factor or "password", extra=who)
        if lockout.locks(settled, now, reset_at, policy):
            state = lockout.lock_state([*settled, now], reset_at, policy, now)
            await self._locked(conn, practice_id, key, state.locked_until or now, data, now)

    async def _locked(
        self,
        conn: asyncpg.Connection,
        practice_id: str,
        key: str,
        until: datetime,
        failed: dict[str, Any],
        now: datetime,
    ) -> None:
        """The failure that locks: counted, logged and announced (``account.locked``)."""
        self.metrics.lockouts.labels(**self.metrics.base()).inc()
        who = {"practice": practice_id, "username": key, "factor": failed.get("factor")}
        log.warning("account locked", extra={**who, "locked_until": until.isoformat()})
        await self.events.emit(
            conn,
            AUTH_EVENTS,
            "account.locked",
            practice_id,
            f"user:{key}",
            {
                "username": key,
                "locked_until": until.isoformat(),
                "employee": failed["employee"],
                "actor": failed["actor"],
            },
            now,
        )
