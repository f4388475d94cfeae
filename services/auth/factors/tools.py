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
from services.auth.adapters import seen_steps
from services.auth.adapters.events import succeeded_data, token_event
from services.auth.api import ChallengeResponse, TokenResponse, VerifyRequest
from services.auth.domain import factors, lockout, tokens
from services.auth.domain.factors import Factor
from services.auth.factors import OUTCOMES, SECOND_STAGES, WAIT, Passed, Wait
from services.auth.use_cases.attempts import Attempts
from services.auth.use_cases.grants import Grants
from shared import assurance
from shared.assurance import Level
from shared.events import Envelope, factor_aad
from shared.outbox import EventWriter, OutboxRow
from shared.problems import Problem
from shared.sealing import Keyring
from shared.topics import AUTH_EVENTS, Topic


@dataclass(frozen=True)
class StepTools:
    """What every factor's verify uses: the checks of the open login, the employee's factors
    (opened), a failed attempt counted, and the completion with the two-factor token."""

    keyring: Keyring
    attempts: Attempts
    grants: Grants
    events: EventWriter
    #: The means → level table (``TWEESTAP_ASSURANCE_LEVELS``).
    levels: Mapping[str, Level]

    @staticmethod
    def check_step(step: repo.SecondStep, now: datetime) -> None:
        """Lockout first, as the password step does; then the account must still be usable."""
        state = lockout.lock_state(step.failures, step.reset_at, step.practice.policy, now)
        if state.locked(now):
            raise problems.locked(state, now)
        if not step.employee.in_service:
            raise problems.account_disabled()

    @staticmethod
    def candidates(step: repo.SecondStep, kind: str) -> list[Factor] | Problem | Wait:
        """The employee's factors of ``kind`` this login accepts; at the enrol step ``WAIT``
        until the authenticator just enrolled has arrived."""
        found = factors.usable(step.factors, kind)
        if not found:
            return WAIT if step.stage == "enrol" else problems.factor_not_available()
        return found

    def open_factor(self, practice: str, employee: str, factor: Factor) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(
            self.keyring.open(factor.sealed, factor_aad(practice, employee, factor.id))
        )
        return body

    async def failed(
        self, conn: asyncpg.Connection, step: repo.SecondStep, factor: str, now: datetime
    ) -> None:
        """A wrong second factor: one failed attempt toward the username's lockout."""
        await self.attempts.failure(
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
        token, rows = self._completion(step, passed, now)
        practice, employee = step.practice, step.employee
        spent, done = await repo.complete_login(
            conn,
            step.login_id,
            practice.id,
            employee.id,
            employee.username_key,
            now,
            rows,
            passed.spend,
        )
        return token, spent, done

    async def complete_seen_totp(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        passed: Passed,
        used: tuple[str, int],
        now: datetime,
    ) -> TokenResponse | None:
        """Complete a TOTP login read without its locks, in one round trip, spending the
        ``used`` (authenticator, time step), if the login is still as ``step`` saw it
        (:func:`seen_steps.complete_totp`); None when it is not, or the step was not spent:
        nothing changed, and the caller goes the locked way."""
        token, rows = self._completion(step, passed, now)
        outcome = await seen_steps.complete_totp(conn, step, SECOND_STAGES, now, rows, *used)
        return token if outcome == (True, True) else None

    def _completion(
        self, step: repo.SecondStep, passed: Passed, now: datetime
    ) -> tuple[TokenResponse, list[OutboxRow]]:
        """The two-factor token of a login completed by ``passed``, and the outbox rows that
        go with it; ``assurance-level-too-low`` when the factor does not reach the level."""
        practice, employee = step.practice, step.employee
        means = assurance.means_of_factor(passed.kind, passed.certified)
        level = assurance.level_of(means, self.levels)
        needed = assurance.highest(
            (step.required_level, assurance.required(practice.assurance, employee.rights_group))
        )
        if not assurance.at_least(level, needed):
            raise problems.assurance_level_too_low(needed)
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            ("pwd", *passed.amr),
            passed.aal,
            tokens.session_start(now, step.cutoff),
            level,
        )
        grant = self.grants.grant(session, now)
        token = self.grants.token(grant, now, passed.recovery_code)
        succeeded = self._succeeded(step, passed, session, grant.session_expires_at, now)
        events = [
            *passed.events,
            succeeded,
            (AUTH_EVENTS, token_event(self.events, "token.issued", session, grant, now)),
        ]
        return token, [self.events.row(t, e) for t, e in events]

    def _succeeded(
        self,
        step: repo.SecondStep,
        passed: Passed,
        session: tokens.Session,
        session_expires_at: datetime,
        now: datetime,
    ) -> tuple[Topic, Envelope]:
        employee = step.employee
        return self.events.outgoing(
            AUTH_EVENTS,
            "login.succeeded",
            step.practice.id,
            employee.id,
            succeeded_data(
                employee,
                session,
                session_expires_at,
                assurance.means_of_factor(passed.kind, passed.certified),
                passed.detail,
            ),
            now,
        )

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
        step = await repo.second_step(conn, login_id, ("second_factor",), now)
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
    as_seen: ClassVar[bool] = False

    async def challenge(self, kind: str, login_id: str) -> ChallengeResponse:
        raise problems.factor_not_available()

    async def verify_seen(
        self, conn: asyncpg.Connection, step: repo.SecondStep, answer: VerifyRequest, now: datetime
    ) -> TokenResponse | None:
        return None

    def observed(self, kind: str, outcome: str) -> None:
        return None
