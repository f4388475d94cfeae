"""Password use cases: the employee's own change, an administrator's set, and storing a
password (policy, history, sealed and replicated on ``auth.credentials``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters.accounts import Accounts
from services.auth.adapters.hasher import Hasher
from services.auth.api import PasswordChanged
from services.auth.domain import tokens
from services.auth.domain.records import Credential, Employee, Practice
from services.auth.metrics import AuthMetrics
from services.auth.use_cases.attempts import Attempts
from services.auth.use_cases.tokens import Issuing
from shared import actors, replicas
from shared.events import PasswordCredential, utcnow
from shared.outbox import EventWriter
from shared.password_strength import assess
from shared.problems import Problem, not_found
from shared.tokens import require_admin
from shared.topics import AUTH_CREDENTIALS, AUTH_EVENTS


def _strength(password: str, practice: Practice, employee: Employee, enforce_policy: bool) -> int:
    """The password's strength (0 to 100, the rule of shared.password_strength), 422
    ``password-too-weak`` with why it is guessable when the policy applies and it is below."""
    policy = practice.policy
    assessed = assess(password, practice.name, (employee.name, employee.username))
    score = assessed.strength
    if enforce_policy and score < policy.min_strength:
        why = " ".join(reason.en for reason in assessed.reasons[:2])
        raise Problem(
            422,
            "password-too-weak",
            "Password too weak",
            f"Strength {score} is below the practice's minimum of {policy.min_strength}."
            + (f" {why}" if why else ""),
            strength=score,
            min_strength=policy.min_strength,
            reasons=[{"code": r.code, "nl": r.nl, "en": r.en} for r in assessed.reasons[:2]],
        )
    return score


@dataclass(frozen=True)
class ReuseCheck:
    attempts: Attempts
    hasher: Hasher

    async def refuse(
        self,
        practice: Practice,
        employee: Employee,
        history: list[str],
        password: str,
        by: str | None,
    ) -> None:
        """422 ``password-reused`` if ``password`` is one of ``history``. The employee's own
        check is a counted guess (refused while locked, a match is a failure): each one costs
        up to ``policy.history`` argon2 verifies and tells whether an old password matches."""
        if by is not None:
            if await self.hasher.matches_any(history, password):
                raise problems.password_reused(practice.policy.history)
            return
        attempt = await self.attempts.reserve(
            practice.id, employee.username_key, practice.policy, utcnow()
        )
        reused = await self.attempts.verify(attempt, self.hasher.matches_any(history, password))
        await (self.attempts.failed if reused else self.attempts.passed)(attempt)
        if reused:
            raise problems.password_reused(practice.policy.history)


@dataclass(frozen=True)
class StorePassword:
    pool: asyncpg.Pool
    hasher: Hasher
    accounts: Accounts
    reuse: ReuseCheck
    events: EventWriter
    metrics: AuthMetrics
    zone: str

    async def store(
        self,
        practice: Practice,
        employee: Employee,
        credential: Credential | None,
        password: str,
        temporary: bool,
        enforce_policy: bool,
        now: datetime,
        *,
        by: str | None = None,
        end_sessions: bool = False,
    ) -> PasswordChanged:
        """Store a new password (sealed, replicated on ``auth.credentials``). ``by``: the
        administrator who set it (None: the employee themselves, whose reused password counts
        as a failed attempt toward the lockout, so the history cannot be probed without end).
        ``end_sessions``: every session of the employee that started until ``now`` ends, in the
        same transaction (cutoff and ``sessions.revoked`` on ``sts.revocations``)."""
        policy = practice.policy
        score = _strength(password, practice, employee, enforce_policy)
        previous = [credential.hash, *credential.history] if credential else []
        if enforce_policy and policy.history and previous:
            await self.reuse.refuse(practice, employee, previous[: policy.history], password, by)
        new_hash = await self.hasher.hash(password)
        history = previous[: max(policy.history - 1, 0)] if policy.history else []
        event = PasswordCredential(
            employee=employee.id,
            sealed=self.accounts.seal(practice.id, employee.id, new_hash, history),
            changed_at=now,
            must_change=temporary,
            strength=score,
            version=(credential.version if credential else 0) + 1,
            updated_at=now,
            zone=self.zone,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await self._write(conn, practice.id, employee, event, by, now)
            if end_sessions and credential is not None:  # no password, no session to end
                # Here at once and in every zone and service by ``sessions.revoked`` (the
                # mechanism of a deactivation); a session started after it in the same
                # second starts at the next (session_start).
                await replicas.end_sessions(
                    self.events, conn, practice.id, employee.id, now, "password_changed"
                )
        self.metrics.password_changes.labels(**self.metrics.base()).inc()
        return PasswordChanged(changed_at=now, strength=score, must_change=temporary)

    async def _write(
        self,
        conn: asyncpg.Connection,
        practice_id: str,
        employee: Employee,
        credential: PasswordCredential,
        by: str | None,
        now: datetime,
    ) -> None:
        """The credential stored and replicated, and ``password.changed`` for the audit."""
        await repo.upsert_credential(conn, practice_id, credential)
        changed = {
            "temporary": credential.must_change,
            "strength": credential.strength,
            "by": by or employee.id,
            # Only an administrator (rights group 1) sets another's password.
            "actor": actors.actor(by or employee.id, 1 if by else employee.rights_group),
        }
        for topic, type_, data in (
            (AUTH_CREDENTIALS, "credential.password", credential.model_dump(mode="json")),
            (AUTH_EVENTS, "password.changed", changed),
        ):
            await self.events.emit(conn, topic, type_, practice_id, employee.id, data, now)


@dataclass(frozen=True)
class ChangeOwnPassword:
    pool: asyncpg.Pool
    accounts: Accounts
    attempts: Attempts
    hasher: Hasher
    passwords: StorePassword
    issuing: Issuing

    async def change_own_password(
        self, claims: dict[str, Any], current_password: str, new_password: str
    ) -> PasswordChanged:
        """The employee changes their own password: the current one is a counted guess (like a
        login), a reused one counts too. Every session of the employee ends (a cutoff on
        ``sts.revocations``, as for a deactivation) and the caller goes on in a new session
        with the same factors: the answer carries its token."""
        now = utcnow()
        async with self.pool.acquire() as conn:
            practice, employee, credential = await self.accounts.load(
                conn, claims["practice"], claims["sub"]
            )
        attempt = await self.attempts.reserve(
            practice.id, employee.username_key, practice.policy, now, credential.changed_at
        )
        verdict = self.hasher.verify(credential.hash, current_password)
        if not await self.attempts.verify(attempt, verdict):
            await self.attempts.failed(attempt, employee.id)
            raise problems.invalid_credentials()
        await self.attempts.passed(attempt)
        changed = await self.passwords.store(
            practice, employee, credential, new_password, False, True, now, end_sessions=True
        )
        caller = tokens.Session.from_claims(claims)
        issued = utcnow()
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            caller.amr,
            caller.aal,
            tokens.session_start(issued, now),  # after the cutoff
            caller.level,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            changed.token = await self.issuing.issue(conn, session, issued, "token.issued")
            await self.issuing.continued(conn, session, employee.rights_group, issued)
        return changed


@dataclass(frozen=True)
class SetPassword:
    pool: asyncpg.Pool
    accounts: Accounts
    passwords: StorePassword

    async def set_password(
        self,
        claims: dict[str, Any],
        practice_id: str,
        employee_id: str,
        password: str,
        temporary: bool,
    ) -> PasswordChanged:
        """An administrator (rights group 1 of the same practice) sets a password; a temporary
        one must be changed at the next login, so it need not meet the policy."""
        require_admin(claims, practice_id)
        now = utcnow()
        async with self.pool.acquire() as conn:
            practice = await repo.practice(conn, practice_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            row = await repo.credential_row(conn, practice_id, employee_id) if employee else None
        if practice is None or employee is None:
            raise not_found("No such employee in this practice.")
        credential = self.accounts.credential(row) if row else None
        return await self.passwords.store(
            practice,
            employee,
            credential,
            password,
            temporary,
            not temporary,
            now,
            by=claims["sub"],
            end_sessions=True,
        )
