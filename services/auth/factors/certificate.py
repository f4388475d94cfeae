"""The certificate fallback as a second factor (eHealth's fallback procedure, DESIGN §1): for
an employee whose second factor is unavailable, the password and then proof of possession of a
Personal certificate granted to them. Exceptional by design: a 12-hour session (``acr``
``aal2-fallback``), at most the practice policy's ``fallback_max_uses`` per 30 days (counted
over both zones), and every use an ``auth.events`` event and an e-mail to the practice."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import asyncpg

from services.auth import problems
from services.auth.adapters import fallbacks
from services.auth.adapters import repository as repo
from services.auth.adapters.notices import Notices
from services.auth.api import (
    ChallengeResponse,
    FallbackCertificateView,
    TokenResponse,
    VerifyRequest,
)
from services.auth.domain import factors, fallback, tokens
from services.auth.domain.fallback import FallbackCertificate
from services.auth.factors import FactorModule, Outcome, Passed
from services.auth.factors.tools import StepTools
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared import actors
from shared.events import Actor, Envelope, FallbackUsed, utcnow
from shared.outbox import EventWriter
from shared.problems import Problem
from shared.topics import AUTH_EVENTS, Topic

log = logging.getLogger(__name__)

#: Metric outcomes of refused fallback attempts, by problem slug.
_OUTCOMES = {
    "invalid-signature": "invalid_signature",
    "certificate-not-allowed": "not_allowed",
    "fallback-limit-reached": "limit",
    "challenge-required": "no_challenge",
    "challenge-expired": "expired",
    "factor-not-available": "unavailable",
    "account-locked": "locked",
    "account-disabled": "disabled",
    "login-not-found": "login_gone",
}


@dataclass(frozen=True)
class Certificate:
    """The fallback's two calls: ``challenge`` hands out a nonce, ``verify`` checks its
    signature and completes the login."""

    tools: StepTools
    pool: asyncpg.Pool
    settings: AuthSettings
    events: EventWriter
    notices: Notices
    metrics: AuthMetrics
    kinds: ClassVar[tuple[str, ...]] = ("certificate",)
    #: After the password, instead of its second factor.
    stages: ClassVar[tuple[str, ...]] = ("second_factor",)
    outcomes: ClassVar[Mapping[str, str]] = _OUTCOMES
    completes_enrolment: ClassVar[bool] = False
    as_seen: ClassVar[bool] = False

    def observed(self, kind: str, outcome: str) -> None:
        self.metrics.fallback(outcome)

    async def challenge(self, kind: str, login_id: str) -> ChallengeResponse:
        """A nonce to sign, valid ``fallback_challenge_seconds``; it replaces the login's
        earlier ones. Only for an employee with a usable certificate and uses left."""
        now = utcnow()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                step = await self.tools.challenge_step(conn, login_id, now)
                practice, employee = step.practice, step.employee
                max_uses = practice.policy.fallback_max_uses
                usable = await fallbacks.usable_certificates(conn, practice.id, employee.id, now)
                if max_uses == 0 or not usable:
                    raise problems.factor_not_available()
                used = await self._check_limit(conn, practice.id, employee.id, max_uses, now)
                nonce = fallback.new_nonce()
                expires_at = now + timedelta(seconds=self.settings.fallback_challenge_seconds)
                await fallbacks.add_challenge(conn, login_id, nonce, now, expires_at)
        except Problem as problem:
            self.metrics.fallback(f"challenge_{_OUTCOMES.get(problem.slug, problem.slug)}")
            raise
        self.metrics.fallback("challenged")
        return ChallengeResponse(
            factor="certificate",
            expires_at=expires_at,
            nonce=nonce,
            certificates=[
                FallbackCertificateView(
                    nr=c.nr, fingerprint=c.fingerprint, subject=c.subject, not_after=c.not_after
                )
                for c in usable
            ],
            uses_left=fallback.uses_left(max_uses, used),
        )

    async def _check_limit(
        self, conn: asyncpg.Connection, practice: str, employee: str, max_uses: int, now: datetime
    ) -> int:
        """The employee's fallback uses in the current period; 429 when none is left."""
        used, oldest = await fallbacks.uses_since(conn, practice, employee, now - fallback.WINDOW)
        if used >= max_uses:
            raise problems.fallback_limit_reached(
                max_uses, fallback.retry_after(oldest or now, now)
            )
        return used

    async def verify_seen(
        self, conn: asyncpg.Connection, step: repo.SecondStep, answer: VerifyRequest, now: datetime
    ) -> TokenResponse | None:
        return None  # the nonce is spent under the login's lock

    async def verify(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> Outcome:
        """The login's newest nonce (spent by this try), signed with the key of the answer's
        ``certificate`` (its ``nr`` or fingerprint): a 12-hour fallback session. A refused
        certificate or a wrong signature counts toward the lockout, like a wrong code."""
        assert answer.certificate is not None and answer.signature is not None  # the model
        login_id, reference, signature = step.login_id, answer.certificate, answer.signature
        practice, employee = step.practice, step.employee
        max_uses = practice.policy.fallback_max_uses
        if max_uses == 0:
            return problems.factor_not_available()
        challenge = await fallbacks.take_challenge(conn, login_id)
        if challenge is None or challenge["used"]:
            return problems.challenge_required()
        if challenge["expires_at"] <= now:
            return problems.challenge_expired()
        found = await fallbacks.certificate(conn, practice.id, fallback.reference(reference))
        reason = "unknown" if found is None else fallback.refusal(found, employee.id, now)
        if found is None or reason is not None:
            await self.tools.failed(conn, step, "certificate", now)
            detail = fallback.REFUSALS.get(
                reason or "", "No such certificate in the practice's certificate store."
            )
            return problems.certificate_not_allowed(detail)
        # Uses are counted per employee across their logins: serialise this zone's.
        await fallbacks.lock_uses(conn, practice.id, employee.id)
        try:
            used = await self._check_limit(conn, practice.id, employee.id, max_uses, now)
        except Problem as problem:
            return problem
        raw = fallback.decode_signature(signature)
        if raw is None or not fallback.signature_valid(
            found.certificate_pem, challenge["nonce"].encode(), raw
        ):
            await self.tools.failed(conn, step, "certificate", now)
            return problems.invalid_signature()
        left = fallback.uses_left(max_uses, used + 1)
        passed = await self._use(conn, step, found, left, now)
        return await self.tools.complete_locked(conn, step, passed, now)

    async def _use(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        certificate: FallbackCertificate,
        left: int,
        now: datetime,
    ) -> Passed:
        """A fallback use: counted (``fallback.used``, for both zones) and the practice
        told by e-mail."""
        practice = step.practice
        passed = self._fallback_used(step, certificate, left, now)
        used_id = passed.events[0][1].id
        await fallbacks.add_use(
            conn, used_id, practice.id, step.employee.id, certificate.nr, now, self.settings.zone
        )
        practice_email = await fallbacks.practice_email(conn, practice.id)
        if practice_email:
            passed.events.append(self._alert(step, certificate, left, practice_email, now))
        else:
            log.warning("practice %s has no e-mail address: fallback alert not sent", practice.id)
        return passed

    def _fallback_used(
        self, step: repo.SecondStep, certificate: FallbackCertificate, left: int, now: datetime
    ) -> Passed:
        practice, employee = step.practice, step.employee
        used = FallbackUsed(
            employee=employee.id,
            username=employee.username_key,
            certificate=certificate.nr,
            fingerprint=certificate.fingerprint,
            zone=self.settings.zone,
            uses_left=left,
            actor=Actor(**actors.actor(employee.id, employee.rights_group)),
        )
        event = self.events.outgoing(
            AUTH_EVENTS, "fallback.used", practice.id, employee.id, used.model_dump(), now
        )
        return Passed("certificate", (fallback.AMR,), [event], aal=tokens.FALLBACK_AAL)

    def _alert(
        self,
        step: repo.SecondStep,
        certificate: FallbackCertificate,
        left: int,
        address: str,
        now: datetime,
    ) -> tuple[Topic, Envelope]:
        """The e-mail to the practice: who, when, which certificate, how many uses are left."""
        practice, employee = step.practice, step.employee
        return self.notices.request(
            practice.id,
            employee.id,
            "email",
            "fallback_alert",
            address,
            {
                "practice_name": practice.name,
                "employee_name": employee.name,
                "username": employee.username,
                "used_at": factors.format_time(now),
                "certificate": f"{certificate.subject} (nr {certificate.nr})",
                "uses_left": left,
            },
            now,
        )


async def on_fallback_used(conn: asyncpg.Connection, event: Envelope) -> None:
    """A fallback login of the other zone: it counts toward the employee's uses here too."""
    use = FallbackUsed.model_validate(event.data)
    await fallbacks.add_use(
        conn, event.id, event.practice, use.employee, use.certificate, event.time, event.zone
    )


MODULE = FactorModule({"fallback.used": on_fallback_used})
