"""The second step of a login (DESIGN §5): a challenge and a verify for whichever second factor
the person chose, each factor's own rules in its module of :mod:`services.auth.factors`; this
use case does what is the same for all of them: finding the open login (row locked), the
lockout and account checks under the username's lock, metrics, and waiting at the enrol step
for the authenticator the enrolment wizard just confirmed. A factor that can (TOTP) first
completes the login as it was seen without the locks, in one guarded call; whatever that
does not complete goes the locked way, which alone refuses."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters import seen_steps
from services.auth.api import ChallengeResponse, TokenResponse, VerifyRequest
from services.auth.factors import Method, Outcome, Registry
from services.auth.factors.tools import StepTools
from services.auth.metrics import AuthMetrics
from services.auth.use_cases.attempts import Attempts
from services.auth.use_cases.opened_logins import OpenedLogins
from shared.events import utcnow
from shared.problems import Problem


@dataclass(frozen=True)
class SecondStep:
    pool: asyncpg.Pool
    attempts: Attempts
    registry: Registry
    metrics: AuthMetrics
    #: How long a verify at the enrol step waits for the authenticator just confirmed.
    factor_wait_seconds: float
    #: Logins this process opened at their second factor, as read back then.
    opened: OpenedLogins

    def _method(self, kind: str) -> Method:
        method = self.registry.get(kind)
        if method is None:
            raise problems.factor_not_available()
        return method

    async def challenge(self, login_id: str, kind: str) -> ChallengeResponse:
        """What the chosen factor needs sent or shown before its verify (a code, a nonce)."""
        return await self._method(kind).challenge(kind, login_id)

    async def verify(self, login_id: str, answer: VerifyRequest) -> TokenResponse:
        """The answer of one of the employee's factors completes the login (once) with a
        two-factor token. A login at the ``enrol`` step continues here once the authenticator
        the enrolment wizard confirmed has arrived (waiting up to ``factor_wait_seconds``)."""
        kind, method = answer.factor, self._method(answer.factor)
        metrics = self.metrics
        deadline: float | None = None
        started = time.perf_counter()
        seen = self.opened.take(login_id)
        token = await self._as_seen(method, seen, login_id, answer) if method.as_seen else None
        if token is not None:
            return self._succeeded(method, kind, token, started)
        while True:
            started = time.perf_counter()
            async with self.pool.acquire() as conn, conn.transaction():
                outcome = await self._attempt(conn, method, login_id, answer)
            if isinstance(outcome, TokenResponse):
                return self._succeeded(method, kind, outcome, started)
            if isinstance(outcome, Problem):
                label = method.outcomes.get(outcome.slug, outcome.slug)
                metrics.second_factor(kind, label)
                method.observed(kind, label)
                raise outcome
            if deadline is None:
                deadline = time.monotonic() + self.factor_wait_seconds
            if not await self._wait_for_authenticator(login_id, deadline):
                metrics.second_factor(kind, "not_ready")
                raise problems.factor_not_ready()

    def _succeeded(
        self, method: Method, kind: str, token: TokenResponse, started: float
    ) -> TokenResponse:
        self.metrics.second_factor(kind, "success")
        method.observed(kind, "success")
        self.metrics.tokens("token.issued", started)
        return token

    async def _as_seen(
        self,
        method: Method,
        seen: repo.SecondStep | None,
        login_id: str,
        answer: VerifyRequest,
    ) -> TokenResponse | None:
        """Without the locks first: the login as its password step handed it on, or read (one
        round trip more), completed in one guarded call if the factor can; None when the
        locked way must decide."""
        async with self.pool.acquire() as conn:
            if seen is None:
                seen = await seen_steps.read(conn, login_id, method.stages, utcnow())
                if seen is None:
                    return None
            return await method.verify_seen(conn, seen, answer, utcnow())

    async def _attempt(
        self, conn: asyncpg.Connection, method: Method, login_id: str, answer: VerifyRequest
    ) -> Outcome:
        """In the caller's transaction, in one round trip: the open login (its row locked,
        then the username's attempts serialised: always in this order) with the failures read
        under both locks, checked (the lockout, so at most ``max_attempts`` codes are ever
        evaluated; then the account must still be usable), then the factor's verify. A
        refusal is returned (and committed: a failed attempt, a spent challenge), not raised."""
        now = utcnow()
        step = await repo.second_step(conn, login_id, method.stages, now, serialise=True)
        if step is None:
            return problems.login_gone()
        try:
            StepTools.check_step(step, now)
        except Problem as problem:
            return problem
        if step.stage == "enrol" and not method.completes_enrolment:
            return problems.factor_not_available()
        return await method.verify(conn, step, answer, now)

    async def _wait_for_authenticator(self, login_id: str, deadline: float) -> bool:
        interval = 0.05
        while True:
            kinds = self.registry.completing_enrolment()
            if await repo.has_active_factor(self.pool, login_id, kinds):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, 0.25)
