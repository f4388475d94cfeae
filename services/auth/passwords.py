"""Password use cases: the employee's own change, an administrator's set, and storing a
password (policy, history, sealed and replicated on ``auth.credentials``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.api import PasswordChanged
from services.auth.core import AuthCore
from services.auth.domain import tokens
from services.auth.domain.records import Credential, Employee, Practice
from services.auth.tokens import Tokens
from shared import actors, replicas
from shared.events import PasswordCredential, credential_aad, utcnow
from shared.password_strength import assess
from shared.problems import Problem, not_found
from shared.tokens import require_admin
from shared.topics import AUTH_CREDENTIALS, AUTH_EVENTS


@dataclass
class Passwords:
    core: AuthCore
    tokens: Tokens

    async def change_own_password(
        self, claims: dict[str, Any], current_password: str, new_password: str
    ) -> PasswordChanged:
        """The employee changes their own password: the current one is a counted guess (like a
        login), a reused one counts too. Every session of the employee ends (a cutoff on
        ``sts.revocations``, as for a deactivation) and the caller goes on in a new session
        with the same factors: the answer carries its token."""
        now = utcnow()
        async with self.core.pool.acquire() as conn:
            practice, employee, credential = await self.core.load_account(
                conn, claims["practice"], claims["sub"]
            )
        attempt = await self.core.reserve_attempt(
            practice.id, employee.username_key, practice.policy, now
        )
        if not await self.core.verify_attempt(
            attempt, self.core.hasher.verify(credential.hash, current_password)
        ):
            await self.core.attempt_failed(attempt, employee.id)
            raise problems.invalid_credentials()
        await self.core.attempt_passed(attempt)
        changed = await self.store(
            practice, employee, credential, new_password, False, True, now, end_sessions=True
        )
        caller = tokens.Session.from_claims(claims)
        issued = utcnow()
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            caller.amr,
            caller.acr,
            tokens.session_start(issued, now),  # after the cutoff
        )
        async with self.core.pool.acquire() as conn, conn.transaction():
            changed.token = await self.tokens.issue(conn, session, issued, "token.issued")
        return changed

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
        async with self.core.pool.acquire() as conn:
            practice = await repo.practice(conn, practice_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            row = await repo.credential_row(conn, practice_id, employee_id) if employee else None
        if practice is None or employee is None:
            raise not_found("No such employee in this practice.")
        credential = self.core.open_credential(row) if row else None
        return await self.store(
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
        # The rule of shared.password_strength.strength, and why a password is guessable.
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
        previous = [credential.hash, *credential.history] if credential else []
        if enforce_policy and policy.history and previous:
            await self._refuse_reuse(practice, employee, previous[: policy.history], password, by)
        new_hash = await self.core.hasher.hash(password)
        history = previous[: max(policy.history - 1, 0)] if policy.history else []
        sealed = self.core.keyring.seal(
            json.dumps({"hash": new_hash, "history": history}).encode(),
            credential_aad(practice.id, employee.id),
        )
        event = PasswordCredential(
            employee=employee.id,
            sealed=sealed,
            changed_at=now,
            must_change=temporary,
            strength=score,
            version=(credential.version if credential else 0) + 1,
            updated_at=now,
            zone=self.core.settings.zone,
        )
        async with self.core.pool.acquire() as conn, conn.transaction():
            await repo.upsert_credential(conn, practice.id, event)
            await self.core.emit(
                conn,
                AUTH_CREDENTIALS,
                "credential.password",
                practice.id,
                employee.id,
                event.model_dump(mode="json"),
                now,
            )
            await self.core.emit(
                conn,
                AUTH_EVENTS,
                "password.changed",
                practice.id,
                employee.id,
                {
                    "temporary": temporary,
                    "strength": score,
                    "by": by or employee.id,
                    # Only an administrator (rights group 1) sets another's password.
                    "actor": actors.actor(by or employee.id, 1 if by else employee.rights_group),
                },
                now,
            )
            if end_sessions and credential is not None:  # no password, no session to end
                await self._end_sessions(conn, practice.id, employee.id, now)
        self.core.metrics.password_changes.labels(**self.core.metrics.base()).inc()
        return PasswordChanged(changed_at=now, strength=score, must_change=temporary)

    async def _refuse_reuse(
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
        attempt = None
        if by is None:
            attempt = await self.core.reserve_attempt(
                practice.id, employee.username_key, practice.policy, utcnow()
            )
        if attempt is None:
            reused = await self.core.hasher.matches_any(history, password)
        else:
            reused = await self.core.verify_attempt(
                attempt, self.core.hasher.matches_any(history, password)
            )
        if attempt is not None:
            await (self.core.attempt_failed if reused else self.core.attempt_passed)(attempt)
        if reused:
            raise Problem(
                422,
                "password-reused",
                "Password used before",
                f"The password may not be one of the last {practice.policy.history}.",
            )

    async def _end_sessions(
        self, conn: asyncpg.Connection, practice_id: str, employee_id: str, now: datetime
    ) -> None:
        """Every session of the employee that started until ``now`` ends, here at once and in
        every zone and service by ``sessions.revoked`` (the mechanism of a deactivation); a
        session started after it in the same second starts at the next (session_start)."""
        await replicas.end_sessions(
            self.core, conn, practice_id, employee_id, now, "password_changed"
        )
