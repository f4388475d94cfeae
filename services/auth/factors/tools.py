"""What every second factor needs at the login's second step: the lockout and account checks,
opening a sealed factor, recording a failed attempt, and completing the login with the
two-factor token (once)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.api import ChallengeResponse, TokenResponse
from services.auth.core import AuthCore
from services.auth.domain import factors, lockout, tokens
from services.auth.domain.factors import Factor
from services.auth.factors import OUTCOMES, SECOND_STAGES, WAIT, Passed, Wait
from shared import actors
from shared.events import factor_aad
from shared.outbox import outbox_row
from shared.problems import Problem
from shared.topics import AUTH_EVENTS


@dataclass
class StepTools:
    """Receives the service's shared state (pool, settings, keyring, signer, metrics, events)."""

    core: AuthCore

    def check_step(self, step: repo.SecondStep, now: datetime) -> None:
        """Lockout first, as the password step does; then the account must still be usable."""
        state = lockout.lock_state(step.failures, step.reset_at, step.practice.policy, now)
        if state.locked(now):
            raise problems.locked(state, now)
        if not step.employee.in_service:
            raise problems.account_disabled()

    async def guard(self, conn: asyncpg.Connection, step: repo.SecondStep, now: datetime) -> None:
        """Before a second factor is verified, in the caller's transaction: the username's
        attempts serialised and the lockout checked under that lock (so at most
        ``max_attempts`` codes are ever evaluated), then the account must still be usable."""
        await self.core.serialise_attempts(conn, step.practice, step.employee.username_key, now)
        if not step.employee.in_service:
            raise problems.account_disabled()

    def candidates(self, step: repo.SecondStep, kind: str) -> list[Factor] | Problem | Wait:
        """The employee's factors of ``kind`` this login accepts; at the enrol step ``WAIT``
        until the authenticator just enrolled has arrived."""
        found = factors.usable(step.factors, kind)
        if not found:
            return WAIT if step.stage == "enrol" else problems.factor_not_available()
        return found

    def open_factor(self, practice: str, employee: str, factor: Factor) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(
            self.core.keyring.open(factor.sealed, factor_aad(practice, employee, factor.id))
        )
        return body

    async def failed(
        self, conn: asyncpg.Connection, step: repo.SecondStep, factor: str, now: datetime
    ) -> None:
        """A wrong second factor: one failed attempt toward the username's lockout."""
        await self.core.failure(
            conn,
            step.practice.id,
            step.employee.username_key,
            step.practice.policy,
            now,
            factor,
            employee=step.employee.id,
        )

    async def complete(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        passed: Passed,
        now: datetime,
    ) -> tuple[TokenResponse, bool, bool]:
        """Complete the login (once): the two-factor token, and the outbox rows that go with
        it (the factor's own events, ``login.succeeded``, ``token.issued``); also (spent,
        done) as :func:`repo.complete_login` answers."""
        core, practice, employee = self.core, step.practice, step.employee
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            ("pwd", *passed.amr),
            passed.acr,
            tokens.session_start(now, step.cutoff),
        )
        grant = core.grant(session, now)
        signed = core.signer.sign(grant.claims, now)
        events = [
            *passed.events,
            core.outgoing(
                AUTH_EVENTS,
                "login.succeeded",
                practice.id,
                employee.id,
                {
                    "username": employee.username_key,
                    "employee": employee.id,
                    "amr": ["pwd", *passed.amr],
                    **passed.detail,
                    "actor": actors.actor(employee.id, employee.rights_group),
                },
                now,
            ),
            (AUTH_EVENTS, core.token_event("token.issued", session, grant, now)),
        ]
        token = TokenResponse(
            token=signed,
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
            recovery_code=passed.recovery_code,
        )
        spent, done = await repo.complete_login(
            conn,
            step.login_id,
            practice.id,
            employee.id,
            employee.username_key,
            now,
            [outbox_row(core.settings, t, e) for t, e in events],
            passed.spend,
        )
        return token, spent, done

    async def complete_locked(
        self, conn: asyncpg.Connection, step: repo.SecondStep, passed: Passed, now: datetime
    ) -> TokenResponse:
        """Complete a login whose row the caller's transaction holds locked."""
        token, _, done = await self.complete(conn, step, passed, now)
        if not done:
            raise problems.login_gone()  # cannot happen: the row is locked (rolls back)
        return token

    async def challenge_step(
        self, conn: asyncpg.Connection, login_id: str, now: datetime
    ) -> repo.SecondStep:
        """The open login at its second step (row locked) for a challenge, checked."""
        step = await repo.second_step(conn, login_id, ("second_factor",), now, lock=True)
        if step is None:
            raise problems.login_gone()
        self.check_step(step, now)
        return step


class Usual:
    """What most factors share (a mixin, not a base of use cases): found at both second
    stages, the code outcomes for metrics, no challenge of auth's (the authenticator or the
    paper shows the code) and no metric of their own."""

    stages: ClassVar[tuple[str, ...]] = SECOND_STAGES
    outcomes: ClassVar[Mapping[str, str]] = OUTCOMES
    completes_enrolment: ClassVar[bool] = False

    async def challenge(self, kind: str, login_id: str) -> ChallengeResponse:
        raise problems.factor_not_available()

    def observed(self, kind: str, outcome: str) -> None:
        return None
