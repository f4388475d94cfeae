"""The password step of a login, and a password changed at the login's ``change_password``
step; where the login goes then is :class:`LoginSteps`'."""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.auth import problems
from services.auth.adapters import fallbacks
from services.auth.adapters import repository as repo
from services.auth.adapters.accounts import Accounts
from services.auth.adapters.hasher import Hasher
from services.auth.api import LoginResponse
from services.auth.domain import passwords
from services.auth.domain.records import Employee, Practice
from services.auth.metrics import AuthMetrics
from services.auth.use_cases.attempts import Attempt, Attempts
from services.auth.use_cases.login_steps import LoginSteps
from services.auth.use_cases.passwords import StorePassword
from shared import logs
from shared.assurance import Level
from shared.consumer import INFRASTRUCTURE_ERRORS
from shared.events import PasswordPolicy, utcnow
from shared.problems import Problem, not_evaluated
from shared.usernames import normalise_username


def _active(
    practice: Practice, employee: Employee, last_login: datetime | None, now: datetime
) -> bool:
    return employee.in_service and not passwords.is_dormant(practice.policy, last_login, now)


@dataclass(frozen=True)
class PasswordLogin:
    pool: asyncpg.Pool
    accounts: Accounts
    attempts: Attempts
    hasher: Hasher
    steps: LoginSteps
    metrics: AuthMetrics

    async def login(
        self,
        practice_id: str,
        username: str,
        password: str,
        second_factor: bool = False,
        level: Level | None = None,
    ) -> LoginResponse:
        """Check the password. Unknown practice, unknown user and wrong password answer the
        same, after the same argon2id work, and all count toward the same lockout.
        ``second_factor``: the login must give one even where the practice does not ask it."""
        started = time.perf_counter()
        now = utcnow()
        key = normalise_username(username)
        logs.bind(practice=practice_id)  # this request's log lines name the practice
        attempt_id = uuid.uuid4()
        try:
            async with self.pool.acquire() as conn:
                # The view and the guess reserved against the credential it found: one trip.
                view, reserved = await repo.login_view(
                    conn, practice_id, key, now, self.attempts.zone, attempt_id
                )
                practice, employee = view.practice, view.employee
                policy = practice.policy if practice else PasswordPolicy()
                against = view.credential["changed_at"] if view.credential else None
                attempt = Attempt(attempt_id, practice_id, key, policy, now, against)
                await self.attempts.admit(conn, attempt, reserved)
        except INFRASTRUCTURE_ERRORS as exc:
            # No guess was evaluated: another zone may take it (a reservation committed just
            # before the connection failed counts as a failure, as a crash mid-verify does).
            raise not_evaluated("This zone cannot reach its database; use the other.") from exc
        except Problem:
            self.metrics.login("locked", started)
            raise
        credential = self.accounts.credential(view.credential) if view.credential else None
        hashed = credential.hash if credential else None
        ok = await self.attempts.verify(attempt, self.hasher.verify(hashed, password))
        if not ok or practice is None or employee is None or credential is None:
            await self.attempts.failed(attempt, employee.id if employee else None)
            self.metrics.login("failure", started)
            raise problems.invalid_credentials()
        if not _active(practice, employee, view.last_login, now):
            await self.attempts.passed(attempt)
            self.metrics.login("disabled", started)
            raise problems.account_disabled()
        # The right guess's pending row is settled by the statement that opens the login.
        try:
            response = await self.steps.advance(
                practice,
                employee,
                credential,
                view.factor_kinds,
                uuid.uuid4().hex,
                now,
                fallback=view.fallback,
                passed=attempt.id,
                second_factor=second_factor,
                asked_level=level,
            )
        except Problem:
            await self.attempts.passed(attempt)  # a right guess all the same
            self.metrics.login("level_too_low", started)
            raise
        except Exception:
            # The login could not be opened (the database failed mid-way): still a right
            # guess, which must not stay pending and count as a failure.
            with contextlib.suppress(Exception):
                await self.attempts.passed(attempt)
            raise
        self.metrics.login("success", started)
        return response


@dataclass(frozen=True)
class ChangePasswordAtLogin:
    pool: asyncpg.Pool
    accounts: Accounts
    passwords: StorePassword
    steps: LoginSteps

    async def change_password_in_login(self, login_id: str, new_password: str) -> LoginResponse:
        """The new password at a login's ``change_password`` step. The step is spent once (a
        conditional update claims it): of two concurrent calls one goes on, the other finds
        the login gone; a refused password hands the step back for another try."""
        now = utcnow()
        async with self.pool.acquire() as conn:
            row = await repo.claim_login(
                conn, login_id, "change_password", repo.CHANGING_PASSWORD, now
            )
        if row is None:
            raise problems.login_gone()
        try:
            async with self.pool.acquire() as conn:
                practice, employee, credential = await self.accounts.load(
                    conn, row["practice"], row["employee"]
                )
            # Like every password change, it ends the employee's other sessions (this login's
            # session starts after the cutoff).
            await self.passwords.store(
                practice, employee, credential, new_password, False, True, now, end_sessions=True
            )
        except Exception:
            async with self.pool.acquire() as conn:
                await repo.claim_login(
                    conn, login_id, repo.CHANGING_PASSWORD, "change_password", now
                )
            raise
        async with self.pool.acquire() as conn:
            fresh = await self.accounts.load(conn, practice.id, employee.id)
            kinds = await repo.factor_kinds(conn, practice.id, employee.id)
            fallback = await fallbacks.has_usable_certificate(conn, practice.id, employee.id, now)
        return await self.steps.advance(
            practice,
            employee,
            fresh[2],
            kinds,
            login_id,
            now,
            existing=True,
            fallback=fallback,
            second_factor=bool(row["second_factor"]),
            asked_level=row["required_level"],
        )
