"""SMS and e-mail codes at login: a code sent through the notifier (at most ``otp_max_sends``
per employee per window, valid ``otp_code_seconds``, stored sealed); only the newest code of
the login's channel counts, once, and not after ``otp_max_attempts`` wrong tries."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters.notices import Notices
from services.auth.api import ChallengeResponse, VerifyRequest
from services.auth.domain import factors
from services.auth.factors import FactorModule, Outcome, Passed
from services.auth.factors.tools import StepTools, Usual
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared import factor_kinds, otp
from shared.events import Channel, utcnow
from shared.problems import Problem
from shared.sealing import Keyring


def _login_code_aad(practice: str, employee: str, code_id: uuid.UUID) -> str:
    return f"login-code:{practice}:{employee}:{code_id}"


@dataclass(frozen=True)
class Code(Usual):
    tools: StepTools
    pool: asyncpg.Pool
    settings: AuthSettings
    keyring: Keyring
    notices: Notices
    metrics: AuthMetrics
    kinds: ClassVar[tuple[str, ...]] = ("sms", "email")

    async def challenge(self, kind: str, login_id: str) -> ChallengeResponse:
        """Send an SMS or e-mail login code for a login at its second step."""
        channel: Channel = "sms" if kind == "sms" else "email"
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            step = await self.tools.challenge_step(conn, login_id, now)
            candidates = factors.usable(step.factors, kind)
            if not candidates:
                self.metrics.code_sent(kind, "unavailable")
                raise problems.factor_not_available()
            await self._limit_sends(conn, step, channel, now)
            practice, employee = step.practice, step.employee
            address = str(self.tools.open_factor(practice.id, employee.id, candidates[0])["to"])
            code = otp.numeric_code(self.settings.otp_code_digits)
            expires_at = await self._store(conn, step, channel, code, now)
            notice = self.notices.request(
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
                now,
                {"code": code},
            )
            await self.notices.queue(conn, notice)
        self.metrics.code_sent(channel, "sent")
        return ChallengeResponse(
            factor=channel, sent_to=factors.mask(address), expires_at=expires_at
        )

    async def _limit_sends(
        self, conn: asyncpg.Connection, step: repo.SecondStep, channel: Channel, now: datetime
    ) -> None:
        """429 ``too-many-codes`` after ``otp_max_sends`` in the window. Sends are counted per
        employee, across the employee's logins: serialised."""
        practice, employee = step.practice, step.employee
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

    async def _store(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        channel: Channel,
        code: str,
        now: datetime,
    ) -> datetime:
        """The login's new code, sealed; when it expires."""
        practice, employee = step.practice.id, step.employee.id
        code_id = uuid.uuid4()
        expires_at = now + timedelta(seconds=self.settings.otp_code_seconds)
        sealed = self.keyring.seal(code.encode(), _login_code_aad(practice, employee, code_id))
        await repo.add_login_code(
            conn, code_id, step.login_id, practice, employee, channel, sealed, now, expires_at
        )
        return expires_at

    async def verify(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> Outcome:
        candidates = self.tools.candidates(step, answer.factor)
        if not isinstance(candidates, list):
            return candidates
        # One factor per channel: the code went to it.
        factor_id = candidates[0].id
        result = await self._check(conn, step, answer.factor, factor_id, answer.code or "", now)
        if isinstance(result, Problem):
            await self.tools.failed(conn, step, answer.factor, now)
            return result
        return await self.tools.complete_locked(conn, step, result, now)

    async def _check(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        channel: str,
        factor_id: str,
        code: str,
        now: datetime,
    ) -> Passed | Problem:
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
        if not ok:
            return problems.invalid_code()
        return Passed(channel, (factor_kinds.amr_of(channel),), detail={"factor_id": factor_id})


MODULE = FactorModule()
