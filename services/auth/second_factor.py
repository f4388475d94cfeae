"""The second step of a login: TOTP, SMS and e-mail codes, recovery codes (DESIGN §5)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.api import ChallengeResponse, TokenResponse
from services.auth.core import AuthCore
from services.auth.domain import factors, lockout, tokens
from services.auth.domain.factors import Factor
from shared import actors, otp
from shared.events import (
    Channel,
    Envelope,
    factor_aad,
    utcnow,
)
from shared.notify import notify_request, request_notification
from shared.outbox import OutboxRow, outbox_row
from shared.problems import Problem
from shared.sealing import SealingError
from shared.topics import (
    AUTH_EVENTS,
    FACTORS,
    NOTIFY_REQUESTS,
    Topic,
)

log = logging.getLogger(__name__)

CHANGE_RECOVERY_USED = "recovery code used"


def _login_code_aad(practice: str, employee: str, code_id: uuid.UUID) -> str:
    return f"login-code:{practice}:{employee}:{code_id}"


@dataclass
class Passed:
    """A second factor that checked out: its ``amr`` and what the login's completion must also
    write (events, notifications), plus a new recovery code to hand out once."""

    amr: str
    events: list[tuple[Topic, Envelope]] = field(default_factory=list)
    recovery_code: str | None = None
    #: ``aal2``, or ``aal2-fallback`` for the certificate fallback (a 12-hour session).
    acr: str = tokens.TWO_FACTOR_ACR


_WAIT = object()
#: Where a login may take its second factor: after the password, or after enrolling.
_SECOND_STAGES = ("second_factor", "enrol")
#: Metric outcomes of second-factor verifications that end in a problem.
_OUTCOMES = {
    "invalid-code": "invalid",
    "code-already-used": "replayed",
    "code-expired": "expired",
    "account-locked": "locked",
    "account-disabled": "disabled",
}


class SecondFactor(AuthCore):
    """The second-factor use cases; :class:`services.auth.handlers.Auth` has the rest."""

    def _check_step(self, step: repo.SecondStep, now: datetime) -> None:
        """Lockout first, as the password step does; then the account must still be usable."""
        state = lockout.lock_state(step.failures, step.reset_at, step.practice.policy, now)
        if state.locked(now):
            raise problems.locked(state, now)
        if not step.employee.in_service:
            raise problems.account_disabled()

    async def _guard(self, conn: asyncpg.Connection, step: repo.SecondStep, now: datetime) -> None:
        """Before a second factor is verified, in the caller's transaction: the username's
        attempts serialised and the lockout checked under that lock (so at most
        ``max_attempts`` codes are ever evaluated), then the account must still be usable."""
        await self._serialise_attempts(conn, step.practice, step.employee.username_key, now)
        if not step.employee.in_service:
            raise problems.account_disabled()

    def _open_factor(self, practice: str, employee: str, factor: Factor) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(
            self.keyring.open(factor.sealed, factor_aad(practice, employee, factor.id))
        )
        return body

    async def challenge(self, login_id: str, factor: Literal["sms", "email"]) -> ChallengeResponse:
        """Send an SMS or e-mail login code for a login at its second step: at most
        ``otp_max_sends`` per employee per window, valid ``otp_code_seconds``, stored sealed,
        sent through the notifier."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            step = await repo.second_step(conn, login_id, ("second_factor",), now, lock=True)
            if step is None:
                raise problems.login_gone()
            self._check_step(step, now)
            candidates = factors.usable(step.factors, factor)
            if not candidates:
                self.metrics.code_sent(factor, "unavailable")
                raise problems.factor_not_available()
            channel: Channel = "sms" if factor == "sms" else "email"
            practice, employee = step.practice, step.employee
            # Sends are counted per employee, across the employee's logins: serialise them.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"login-codes:{practice.id}:{employee.id}",
            )
            window = self.settings.otp_send_window_seconds
            sent, oldest = await repo.recent_sends(
                conn, practice.id, employee.id, now - timedelta(seconds=window)
            )
            if sent >= self.settings.otp_max_sends:
                self.metrics.code_sent(channel, "too_many")
                raise Problem(
                    429,
                    "too-many-codes",
                    "Too many codes",
                    "Too many codes were sent in a short time; try again later.",
                    retry_after=factors.retry_after(oldest or now, window, now),
                )
            address = str(self._open_factor(practice.id, employee.id, candidates[0])["to"])
            code = otp.numeric_code(self.settings.otp_code_digits)
            code_id = uuid.uuid4()
            expires_at = now + timedelta(seconds=self.settings.otp_code_seconds)
            await repo.add_login_code(
                conn,
                code_id,
                login_id,
                practice.id,
                employee.id,
                channel,
                self.keyring.seal(
                    code.encode(), _login_code_aad(practice.id, employee.id, code_id)
                ),
                now,
                expires_at,
            )
            request = notify_request(
                self.settings,
                self.keyring,
                practice.id,
                employee.id,
                channel,
                "login_code",
                address,
                {
                    "practice_name": practice.name,
                    "employee_name": employee.name,
                    "expires_minutes": factors.expires_minutes(self.settings.otp_code_seconds),
                },
                {"code": code},
                now=now,
            )
            await request_notification(conn, self.settings, request)
        self.metrics.code_sent(channel, "sent")
        return ChallengeResponse(
            factor=channel, sent_to=factors.mask(channel, address), expires_at=expires_at
        )

    async def verify_second_factor(
        self, login_id: str, factor: str, code: str | None
    ) -> TokenResponse:
        """The second step: the code of one of the employee's factors completes the login
        (once) with a two-factor token. A login at the ``enrol`` step continues here once the
        authenticator the enrolment wizard confirmed has arrived (waiting a little for it)."""
        deadline: float | None = None
        while True:
            started = time.perf_counter()
            async with self.pool.acquire() as conn:
                if factor == "totp":
                    outcome = await self._attempt_totp(conn, login_id, code or "")
                else:
                    outcome = await self._attempt_code(conn, login_id, factor, code or "")
            if isinstance(outcome, TokenResponse):
                self.metrics.second_factor(factor, "success")
                self.metrics.tokens("token.issued", started)
                return outcome
            if isinstance(outcome, Problem):
                self.metrics.second_factor(factor, _OUTCOMES.get(outcome.slug, outcome.slug))
                raise outcome
            if deadline is None:
                deadline = time.monotonic() + self.settings.factor_wait_seconds
            if not await self._wait_for_authenticator(login_id, deadline):
                self.metrics.second_factor(factor, "not_ready")
                raise problems.factor_not_ready()

    async def _wait_for_authenticator(self, login_id: str, deadline: float) -> bool:
        interval = 0.05
        while True:
            if await repo.has_active_totp(self.pool, login_id):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, 0.25)

    async def _open_step(
        self, conn: asyncpg.Connection, login_id: str, factor: str, now: datetime
    ) -> tuple[repo.SecondStep, list[Factor]] | Problem | object:
        """In the caller's transaction: the open login (its row locked, then the username's
        attempts serialised: always in this order) and the employee's factors of that kind,
        after the lockout and the account checks; ``_WAIT`` at the enrol step before the
        authenticator has arrived."""
        step = await repo.second_step(conn, login_id, _SECOND_STAGES, now, lock=True)
        if step is None:
            return problems.login_gone()
        try:
            await self._guard(conn, step, now)
        except Problem as problem:
            return problem
        # At the enrol step only the authenticator just enrolled completes the login.
        enrolling = step.stage == "enrol"
        if factor == "certificate" or (enrolling and factor != "totp"):
            return problems.factor_not_available()
        candidates = factors.usable(step.factors, factor)
        if not candidates:
            return _WAIT if enrolling else problems.factor_not_available()
        return step, candidates

    async def _attempt_totp(
        self, conn: asyncpg.Connection, login_id: str, code: str
    ) -> TokenResponse | Problem | object:
        """One transaction, the login row locked and the username's attempts serialised: the
        code is matched (±1 step), its step must come after the employee's last used one
        (steps only go forward), and one statement spends the step and completes the login
        (at most once)."""
        now = utcnow()
        async with conn.transaction():
            opened = await self._open_step(conn, login_id, "totp", now)
            if not isinstance(opened, tuple):
                return opened
            step, candidates = opened
            practice, employee = step.practice, step.employee
            matched = self._match_totp(step, candidates, code, now)
            if matched is None:
                await self._second_factor_failed(conn, step, "totp", now)
                return problems.invalid_code()
            factor, used_step = matched
            last, replayed = await repo.totp_history(
                conn, practice.id, employee.id, factor.id, used_step
            )
            if not factors.totp_step_fresh(used_step, last):
                return await self._totp_refused(conn, step, factor, used_step, replayed, now)
            data = {"employee": employee.id, "factor": factor.id, "step": used_step}
            used = self._event(AUTH_EVENTS, "totp.used", practice.id, employee.id, data, now)
            token, rows = self._two_factor_token(step, Passed("otp", [used]), now)
            spent, done = await repo.complete_login(
                conn,
                step.login_id,
                practice.id,
                employee.id,
                employee.username_key,
                now,
                rows,
                totp_step=(factor.id, used_step),
            )
            if done:
                return token
            if spent:
                return problems.login_gone()  # cannot happen: the row is locked
            # Another zone's use of a later step arrived meanwhile.
            return await self._totp_refused(conn, step, factor, used_step, False, now)

    async def _totp_refused(
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
        if replayed:
            await self._totp_replayed(conn, step, factor, used_step, now)
        else:
            await self._second_factor_failed(conn, step, "totp", now)
        return problems.code_already_used()

    async def _attempt_code(
        self, conn: asyncpg.Connection, login_id: str, factor: str, code: str
    ) -> TokenResponse | Problem | object:
        """SMS, e-mail and recovery codes: one transaction with the login row locked, so a
        code's tries are counted exactly and the login completes once."""
        now = utcnow()
        async with conn.transaction():
            opened = await self._open_step(conn, login_id, factor, now)
            if not isinstance(opened, tuple):
                return opened
            step, candidates = opened
            result: Passed | Problem
            if factor == "recovery":
                used = self._check_recovery(step, candidates, code)
                if used is None:
                    result = problems.invalid_code()
                else:
                    passed = Passed(factors.AMR["recovery"])
                    spent = await self._renew_recovery(conn, step, used, passed, now)
                    result = passed if spent else problems.code_already_used()
            else:
                result = await self._check_login_code(conn, step, factor, code, now)
            if isinstance(result, Problem):
                await self._second_factor_failed(conn, step, factor, now)
                return result
            return await self._complete_locked(conn, step, result, now)

    async def _complete_locked(
        self, conn: asyncpg.Connection, step: repo.SecondStep, passed: Passed, now: datetime
    ) -> TokenResponse:
        """Complete a login whose row the caller's transaction holds locked: the token, and
        its events queued with the completion."""
        token, rows = self._two_factor_token(step, passed, now)
        _, done = await repo.complete_login(
            conn,
            step.login_id,
            step.practice.id,
            step.employee.id,
            step.employee.username_key,
            now,
            rows,
        )
        if not done:
            raise problems.login_gone()  # cannot happen: the row is locked (rolls back)
        return token

    async def _second_factor_failed(
        self, conn: asyncpg.Connection, step: repo.SecondStep, factor: str, now: datetime
    ) -> None:
        await self._failure(
            conn,
            step.practice.id,
            step.employee.username_key,
            step.practice.policy,
            now,
            factor,
            employee=step.employee.id,
        )

    def _match_totp(
        self, step: repo.SecondStep, candidates: list[Factor], code: str, now: datetime
    ) -> tuple[Factor, int] | None:
        """The authenticator and the time step (±1) whose code this is."""
        started = time.perf_counter()
        try:
            for candidate in candidates:
                try:
                    opened = self._open_factor(step.practice.id, step.employee.id, candidate)
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

    async def _totp_replayed(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        factor: Factor,
        used_step: int,
        now: datetime,
    ) -> None:
        """A spent time step came again: a failure, an event, and an e-mail to the employee
        (someone may have their code). The code that confirmed the enrolment, typed again at
        once, is most likely the employee's own: refused and recorded, but no alarm e-mail."""
        practice, employee = step.practice, step.employee
        await self._second_factor_failed(conn, step, "totp", now)
        confirmation = used_step == factor.confirmed_step
        await self.emit(
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
            await request_notification(
                conn,
                self.settings,
                notify_request(
                    self.settings,
                    self.keyring,
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
                    now=now,
                ),
            )

    async def _check_login_code(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        channel: str,
        code: str,
        now: datetime,
    ) -> Passed | Problem:
        """Only the newest code sent for this login on this channel counts; it works once, and
        not after ``otp_max_attempts`` wrong tries (void)."""
        row = await repo.newest_login_code(conn, step.login_id, channel)
        if row is None or row["used"] or row["attempts"] >= self.settings.otp_max_attempts:
            return problems.invalid_code()
        if row["expires_at"] <= now:
            return problems.code_expired()
        stored = self.keyring.open(
            row["sealed"], _login_code_aad(row["practice"], row["employee"], row["id"])
        )
        typed = code.strip().replace(" ", "").encode()
        ok = hmac.compare_digest(typed, stored)
        await repo.login_code_tried(conn, row["id"], used=ok)
        return Passed(factors.AMR[channel]) if ok else problems.invalid_code()

    def _check_recovery(
        self, step: repo.SecondStep, candidates: list[Factor], code: str
    ) -> Factor | None:
        """The recovery factor whose code this is, if any."""
        for candidate in candidates:
            try:
                stored = str(
                    self._open_factor(step.practice.id, step.employee.id, candidate)["hash"]
                )
            except (SealingError, KeyError, ValueError):
                log.warning("factor %s does not open; skipped", candidate.id)
                continue
            if otp.same_code(code, stored):
                return candidate
        return None

    async def _renew_recovery(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        used: Factor,
        passed: Passed,
        now: datetime,
    ) -> bool:
        """A recovery code works once: replace it at once (its code and ``created_at`` stamped
        version + 1 on ``factors``, applied here only if the factor is still at the version the
        code was checked against: the spend is conditional), announce its use and tell the
        employee. False: spent by someone else meanwhile."""
        practice, employee = step.practice, step.employee
        new_code = otp.recovery_code()
        sealed = self.keyring.seal(
            json.dumps({"hash": otp.code_hash(new_code)}).encode(),
            factor_aad(practice.id, employee.id, used.id),
        )
        credential = await repo.spend_recovery(
            conn, practice.id, used.id, used.version, sealed, now, self.settings.zone
        )
        if credential is None:
            return False
        passed.recovery_code = new_code
        passed.events += [
            self._event(
                FACTORS,
                "factor.credential",
                practice.id,
                used.id,
                credential.model_dump(mode="json"),
                now,
            ),
            self._event(
                AUTH_EVENTS,
                "recovery.used",
                practice.id,
                employee.id,
                {"employee": employee.id, "factor": used.id},
                now,
            ),
        ]
        if step.email:
            passed.events.append(
                (
                    NOTIFY_REQUESTS,
                    notify_request(
                        self.settings,
                        self.keyring,
                        practice.id,
                        employee.id,
                        "email",
                        "factor_changed",
                        step.email,
                        {
                            "practice_name": practice.name,
                            "employee_name": employee.name,
                            "change": CHANGE_RECOVERY_USED,
                            "changed_at": factors.format_time(now),
                        },
                        now=now,
                    ),
                )
            )
        return True

    def _two_factor_token(
        self, step: repo.SecondStep, passed: Passed, now: datetime
    ) -> tuple[TokenResponse, list[OutboxRow]]:
        """Both factors passed: the two-factor token, and the outbox rows that go with the
        login's completion (the factor's own events, ``login.succeeded``, ``token.issued``)."""
        practice, employee = step.practice, step.employee
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            ("pwd", passed.amr),
            passed.acr,
            tokens.session_start(now, step.cutoff),
        )
        grant = self.grant(session, now)
        signed = self.signer.sign(grant.claims, now)
        events = [
            *passed.events,
            self._event(
                AUTH_EVENTS,
                "login.succeeded",
                practice.id,
                employee.id,
                {
                    "username": employee.username_key,
                    "employee": employee.id,
                    "amr": ["pwd", passed.amr],
                    "actor": actors.actor(employee.id, employee.rights_group),
                },
                now,
            ),
            (AUTH_EVENTS, self._token_event("token.issued", session, grant, now)),
        ]
        token = TokenResponse(
            token=signed,
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
            recovery_code=passed.recovery_code,
        )
        return token, [outbox_row(self.settings, t, e) for t, e in events]
