"""TOTP (RFC 6238) at login: the code of one of the employee's authenticators (±1 step), its
step after the employee's last used one (steps only go forward), spent with the completion."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import asyncpg
from pydantic import BaseModel

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters import totp_steps
from services.auth.adapters.notices import Notices
from services.auth.api import TokenResponse, VerifyRequest
from services.auth.domain import factors
from services.auth.domain.factors import Factor
from services.auth.factors import FactorModule, Outcome, Passed
from services.auth.factors.tools import StepTools, Usual
from services.auth.metrics import AuthMetrics
from shared import bounds, factor_kinds, otp
from shared.events import Envelope, FactorCredential
from shared.outbox import EventWriter
from shared.problems import Problem
from shared.sealing import SealingError
from shared.topics import AUTH_EVENTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Totp(Usual):
    tools: StepTools
    events: EventWriter
    notices: Notices
    metrics: AuthMetrics
    kinds: ClassVar[tuple[str, ...]] = ("totp",)
    #: At the enrol step only the authenticator just enrolled completes the login.
    completes_enrolment: ClassVar[bool] = True
    #: The usual step completes in one guarded call (:meth:`verify_seen`).
    as_seen: ClassVar[bool] = True

    async def verify(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> Outcome:
        """The code is matched (±1 step), its step must come after the employee's last used
        one, and one statement spends the step and completes the login (at most once)."""
        candidates = self.tools.candidates(step, "totp")
        if not isinstance(candidates, list):
            return candidates
        practice, employee = step.practice, step.employee
        matched = self._match(step, candidates, answer.code or "", now)
        if matched is None:
            await self.tools.failed(conn, step, "totp", now)
            return problems.invalid_code()
        factor, used_step = matched
        # The statement that completes the login spends the step only if it comes after the
        # employee's last used one (factors.totp_step_fresh): the history is read only when
        # it refused, to tell a replay from an old step.
        passed = self._passed(step, factor, used_step, now)
        token, spent, done = await self.tools.complete(conn, step, passed, now)
        if done:
            return token
        if spent:
            return problems.login_gone()  # cannot happen: the row is locked
        # Not after the last used step (this zone's or, replicated, the other's).
        _, replayed = await totp_steps.history(conn, practice.id, employee.id, factor.id, used_step)
        return await self._refused(conn, step, factor, used_step, replayed, now)

    async def verify_seen(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> TokenResponse | None:
        """The usual TOTP step in one round trip: the login as read without its locks (or
        handed on by its password step) passes the checks, the code matches, and one guarded
        call completes it if the login is still as seen. None for anything else (a wrong or
        used code, a lockout, a change in between): the locked :meth:`verify` decides, so
        only what it would answer is ever answered."""
        if step.stage != "second_factor":
            return None
        try:
            StepTools.check_step(step, now)
        except Problem:
            return None
        candidates = self.tools.candidates(step, "totp")
        if not isinstance(candidates, list):
            return None
        matched = self._match(step, candidates, answer.code or "", now)
        if matched is None:
            return None
        factor, used_step = matched
        passed = self._passed(step, factor, used_step, now)
        try:
            return await self.tools.complete_seen_totp(
                conn, step, passed, (factor.id, used_step), now
            )
        except Problem:  # the level not reached: refused the locked way, like the rest
            return None

    def _passed(
        self, step: repo.SecondStep, factor: Factor, used_step: int, now: datetime
    ) -> Passed:
        """The code of ``factor`` at ``used_step`` passed: ``totp.used``, and the step spent by
        the statement that completes the login."""
        practice, employee = step.practice, step.employee
        data = {"employee": employee.id, "factor": factor.id, "step": used_step}
        used = self.events.outgoing(AUTH_EVENTS, "totp.used", practice.id, employee.id, data, now)
        return Passed(
            "totp",
            (factor_kinds.amr_of("totp"),),
            [used],
            spend=totp_steps.spend(factor.id, used_step),
            detail={"factor_id": factor.id},
        )

    def _match(
        self, step: repo.SecondStep, candidates: list[Factor], code: str, now: datetime
    ) -> tuple[Factor, int] | None:
        """The authenticator and the time step (±1) whose code this is."""
        started = time.perf_counter()
        try:
            for candidate in candidates:
                try:
                    opened = self.tools.open_factor(step.practice.id, step.employee.id, candidate)
                    secret = str(opened["secret"])
                except (SealingError, KeyError, ValueError):
                    log.warning("factor %s does not open; skipped", candidate.id)
                    continue
                found = otp.match_totp(secret, code, now)
                if found is not None:
                    return candidate, found
            return None
        finally:
            self.metrics.totp_checked(started)

    async def _refused(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        factor: Factor,
        used_step: int,
        replayed: bool,
        now: datetime,
    ) -> Problem:
        """A step at or before the last used one: a failed attempt; the very step used before
        is a replay (an event and an e-mail), an older unused one only a failure."""
        await self.tools.failed(conn, step, "totp", now)
        if replayed:
            await self._replayed(conn, step, factor, used_step, now)
        return problems.code_already_used()

    async def _replayed(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        factor: Factor,
        used_step: int,
        now: datetime,
    ) -> None:
        """A spent time step came again: an event, and an e-mail to the employee (someone may
        have their code). The code that confirmed the enrolment, typed again at once, is most
        likely the employee's own: refused and recorded, but no alarm e-mail."""
        practice, employee = step.practice, step.employee
        confirmation = used_step == factor.confirmed_step
        await self.events.emit(
            conn,
            AUTH_EVENTS,
            "totp.replayed",
            practice.id,
            employee.id,
            {
                "employee": employee.id,
                "factor": factor.id,
                "step": used_step,
                "confirmation": confirmation,
            },
            now,
        )
        if step.email and not confirmation:
            notice = self.notices.request(
                practice.id,
                employee.id,
                "email",
                "totp_replay",
                step.email,
                {
                    "practice_name": practice.name,
                    "employee_name": employee.name,
                    "used_at": factors.format_time(now),
                },
                now,
            )
            await self.notices.queue(conn, notice)


class TotpUsed(BaseModel):
    """``auth.events`` ``totp.used``: a time step spent in the writer's zone."""

    employee: str
    factor: str
    step: int


async def on_totp_used(conn: asyncpg.Connection, event: Envelope) -> None:
    """A step the other zone spent: spent here too (the steps converge as a set)."""
    used = TotpUsed.model_validate(event.data)
    bounds.check_step(used.step, event.time)
    await totp_steps.add(conn, event.practice, used.employee, used.factor, used.step)


async def on_credential(conn: asyncpg.Connection, practice: str, body: FactorCredential) -> None:
    """An authenticator's confirmation step is spent (its code was typed in the wizard). One
    far ahead of the factor's creation would make every code a "replay": refused."""
    if body.kind != "totp" or body.confirmed_step is None:
        return
    bounds.check_time("the factor's creation", body.created_at)
    # Spent when (or before) the factor was created: only a step ahead of that can harm.
    bounds.check_step(body.confirmed_step, body.created_at, earlier=True)
    await totp_steps.add(conn, practice, body.employee, body.factor, body.confirmed_step)


MODULE = FactorModule({"totp.used": on_totp_used}, on_credential)
