"""The password step of a login and what follows it: the next step (a changed password,
the second factor, enrolment, or done with a one-factor token), and a password changed at the
login's ``change_password`` step."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.auth import problems
from services.auth.adapters import fallbacks
from services.auth.adapters import repository as repo
from services.auth.api import LoginResponse, TokenResponse
from services.auth.core import AuthCore
from services.auth.domain import factors, passwords, tokens
from services.auth.domain.login import next_step
from services.auth.domain.records import Credential, Employee, Practice
from services.auth.passwords import Passwords
from services.auth.tokens import Tokens
from shared import actors, logs
from shared.consumer import INFRASTRUCTURE_ERRORS
from shared.events import PasswordPolicy, utcnow
from shared.problems import Problem, not_evaluated
from shared.topics import AUTH_EVENTS
from shared.usernames import normalise_username


@dataclass
class PasswordLogin:
    core: AuthCore
    passwords: Passwords
    tokens: Tokens

    async def login(self, practice_id: str, username: str, password: str) -> LoginResponse:
        """Check the password. Unknown practice, unknown user and wrong password answer the
        same, after the same argon2id work, and all count toward the same lockout."""
        started = time.perf_counter()
        now = utcnow()
        key = normalise_username(username)
        logs.bind(practice=practice_id)  # this request's log lines name the practice
        try:
            async with self.core.pool.acquire() as conn:
                view = await repo.login_view(conn, practice_id, key, now)
        except INFRASTRUCTURE_ERRORS as exc:
            # Nothing is written before the guess is reserved: another zone may take it.
            raise not_evaluated("This zone cannot reach its database; use the other.") from exc
        practice, employee = view.practice, view.employee
        policy = practice.policy if practice else PasswordPolicy()
        try:
            attempt = await self.core.reserve_attempt(practice_id, key, policy, now)
        except Problem:
            self.core.metrics.login("locked", started)
            raise
        credential = self.core.open_credential(view.credential) if view.credential else None
        hashed = credential.hash if credential else None
        ok = await self.core.verify_attempt(attempt, self.core.hasher.verify(hashed, password))
        if not ok or practice is None or employee is None or credential is None:
            await self.core.attempt_failed(attempt, employee.id if employee else None)
            self.core.metrics.login("failure", started)
            raise problems.invalid_credentials()
        if not self._active(practice, employee, view.last_login, now):
            await self.core.attempt_passed(attempt)
            self.core.metrics.login("disabled", started)
            raise problems.account_disabled()
        # The right guess's pending row is settled by the statement that opens the login.
        response = await self._continue(
            practice,
            employee,
            credential,
            view.factor_kinds,
            uuid.uuid4().hex,
            now,
            fallback=view.fallback,
            passed=attempt.id,
        )
        self.core.metrics.login("success", started)
        return response

    def _active(
        self, practice: Practice, employee: Employee, last_login: datetime | None, now: datetime
    ) -> bool:
        return employee.in_service and not passwords.is_dormant(practice.policy, last_login, now)

    async def _continue(
        self,
        practice: Practice,
        employee: Employee,
        credential: Credential,
        factor_kinds: Sequence[str],
        login_id: str,
        now: datetime,
        existing: bool = False,
        fallback: bool = False,
        passed: uuid.UUID | None = None,
    ) -> LoginResponse:
        """Record where the login goes next and answer with that step (and, for the second
        factor, the factors it may use); ``passed``: the pending row of the right guess that
        opened the login, settled by the login's first write (it was no failure)."""
        step = next_step(
            practice, credential, strong_factors=factors.strong_count(factor_kinds), now=now
        )
        ttl = (
            self.core.settings.enrolment_token_seconds
            if step == "enrol"
            else self.core.settings.login_ttl_seconds
        )
        expires_at = now + timedelta(seconds=ttl)
        allowed = fallback and practice.policy.fallback_max_uses > 0
        offered = factors.offered(factor_kinds, allowed) if step == "second_factor" else []
        response = LoginResponse(
            login_id=login_id, next=step, factors=offered, expires_at=expires_at
        )
        new = (login_id, practice.id, employee.id, step, now, expires_at, passed)
        async with self.core.pool.acquire() as conn:
            if not existing and step != "done":
                # The usual case (a second factor, a new password, enrolment): one statement
                # opens the login and settles the guess, without a transaction around it.
                await repo.create_login(conn, *new)
            else:
                async with conn.transaction():
                    if existing:
                        moved = await repo.advance_login(
                            conn, login_id, step, expires_at, repo.CHANGING_PASSWORD
                        )
                        if not moved:
                            raise problems.login_gone()
                    else:
                        await repo.create_login(conn, *new)
                    if step == "done":
                        response.token = await self._done(conn, practice, employee, now)
        if step == "enrol":
            response.enrolment_token = self._enrolment_token(employee, login_id, now, expires_at)
        warn_at = passwords.expires_at(practice.policy, credential.changed_at or now)
        if warn_at and warn_at - now <= timedelta(days=practice.policy.warn_before_days):
            response.password_expires_at = warn_at
        return response

    async def _done(
        self, conn: asyncpg.Connection, practice: Practice, employee: Employee, now: datetime
    ) -> TokenResponse:
        """A password-only login is complete: its session and token, in the caller's
        transaction."""
        cutoff = await repo.session_cutoff(conn, practice.id, employee.id)
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            ("pwd",),
            tokens.SINGLE_FACTOR_ACR,
            tokens.session_start(now, cutoff),
        )
        token = await self.tokens.issue(conn, session, now, "token.issued")
        await self._login_succeeded(conn, practice.id, employee, now)
        return token

    async def _login_succeeded(
        self, conn: asyncpg.Connection, practice_id: str, employee: Employee, now: datetime
    ) -> None:
        key = employee.username_key
        await repo.reset_failures(conn, practice_id, key, now)
        await repo.record_login(conn, practice_id, employee.id, now)
        await self.core.emit(
            conn,
            AUTH_EVENTS,
            "login.succeeded",
            practice_id,
            employee.id,
            {
                "username": key,
                "employee": employee.id,
                "actor": actors.actor(employee.id, employee.rights_group),
            },
            now,
        )

    def _enrolment_token(
        self, employee: Employee, login_id: str, now: datetime, expires_at: datetime
    ) -> str:
        claims = {
            "iss": self.core.settings.issuer,
            "sub": employee.id,
            "practice": employee.practice,
            "sid": login_id,
            "lid": login_id,
            "aud": self.core.settings.token_audience,
            "client_id": self.core.settings.token_client_id,
            "scope": tokens.ENROL_SCOPE,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "zone": self.core.settings.zone,
        }
        return self.core.signer.sign(claims, now)

    async def change_password_in_login(self, login_id: str, new_password: str) -> LoginResponse:
        """The new password at a login's ``change_password`` step. The step is spent once (a
        conditional update claims it): of two concurrent calls one goes on, the other finds
        the login gone; a refused password hands the step back for another try."""
        now = utcnow()
        async with self.core.pool.acquire() as conn:
            row = await repo.claim_login(
                conn, login_id, "change_password", repo.CHANGING_PASSWORD, now
            )
        if row is None:
            raise problems.login_gone()
        try:
            async with self.core.pool.acquire() as conn:
                practice, employee, credential = await self.core.load_account(
                    conn, row["practice"], row["employee"]
                )
            # Like every password change, it ends the employee's other sessions (this login's
            # session starts after the cutoff).
            await self.passwords.store(
                practice, employee, credential, new_password, False, True, now, end_sessions=True
            )
        except Exception:
            async with self.core.pool.acquire() as conn:
                await repo.claim_login(
                    conn, login_id, repo.CHANGING_PASSWORD, "change_password", now
                )
            raise
        async with self.core.pool.acquire() as conn:
            fresh = await self.core.load_account(conn, practice.id, employee.id)
            kinds = await repo.factor_kinds(conn, practice.id, employee.id)
            fallback = await fallbacks.has_usable_certificate(conn, practice.id, employee.id, now)
        return await self._continue(
            practice, employee, fresh[2], kinds, login_id, now, existing=True, fallback=fallback
        )
