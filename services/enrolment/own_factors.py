"""The employee's own factors: the list, SMS/e-mail factors, a new recovery code."""

from __future__ import annotations

import hmac
import json
import uuid
from datetime import timedelta

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.api import (
    FactorView,
    PendingFactorView,
    RecoveryCode,
)
from services.enrolment.core import (
    EnrolmentCore,
    pending_aad,
)
from services.enrolment.domain import enrolment as steps
from services.enrolment.domain.masking import mask
from services.enrolment.domain.records import Factor, PendingFactor, WeakKind
from services.enrolment.problems import HOUR
from shared import actors, otp
from shared.events import (
    FACTOR_ORDER,
    FactorCredential,
    factor_aad,
    recovery_factor_id,
    utcnow,
)
from shared.problems import Problem, not_found
from shared.topics import (
    ENROLMENT_EVENTS,
)


class OwnFactors(EnrolmentCore):
    async def list_factors(self, token: str) -> list[FactorView]:
        claims = await self.session(token, two_factor=True)
        async with self.pool.acquire() as conn:
            factors = await repo.active_factors(conn, claims["practice"], claims["sub"])
        order = {kind: i for i, kind in enumerate(FACTOR_ORDER)}
        factors.sort(key=lambda f: (order.get(f.kind, len(order)), f.created_at))
        return [
            FactorView(
                factor_id=f.id,
                kind=f.kind,
                created_at=f.created_at,
                sent_to=self._sent_to(f) if f.kind in ("sms", "email") else None,
            )
            for f in factors
        ]

    def _sent_to(self, factor: Factor) -> str | None:
        body = json.loads(
            self.keyring.open(
                factor.sealed, factor_aad(factor.practice, factor.employee, factor.id)
            )
        )
        to = body.get("to")
        return mask(to) if isinstance(to, str) else None

    async def request_factor(
        self, token: str, kind: WeakKind, address: str | None
    ) -> PendingFactorView:
        """Enrol an SMS or e-mail factor (weak: only for an employee with a strong factor):
        a confirmation code goes to the address, ``confirm_factor`` activates it."""
        claims = await self.session(token, two_factor=True)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            practice = await repo.practice(conn, practice_id)
            if employee is None:
                raise problems.session_revoked()
            factors = await repo.active_factors(conn, practice_id, employee_id)
            if not any(f.kind == "totp" for f in factors):
                raise problems.strong_factor_required()
            address = address or (employee.phone if kind == "sms" else employee.email)
            if not address:
                raise Problem(
                    422,
                    "address-missing",
                    "No address to send the code to",
                    f"Give the {'phone number' if kind == 'sms' else 'e-mail address'} to use.",
                )
            sent = await repo.pending_since(conn, practice_id, employee_id, now - HOUR)
            if len(sent) >= self.settings.confirmation_sends_per_hour:
                raise problems.too_many(sent, now)
            factor_id = f"{kind}.{uuid.uuid4().hex[:16]}"
            code = otp.numeric_code(self.settings.confirmation_code_digits)
            pending = PendingFactor(
                id=factor_id,
                practice=practice_id,
                employee=employee_id,
                kind=kind,
                sealed=self._seal_factor(practice_id, employee_id, factor_id, {"to": address}),
                sealed_code=self.keyring.seal(
                    code.encode(), pending_aad(practice_id, employee_id, factor_id)
                ),
                sent_to=mask(address),
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.confirmation_code_seconds),
                attempts=0,
                state="pending",
            )
            await repo.add_pending(conn, pending)
            await self.notify(
                conn,
                practice_id,
                employee_id,
                kind,
                "login_code",
                address,
                {
                    "practice_name": practice.name if practice else practice_id,
                    "employee_name": employee.name,
                    "expires_minutes": steps.minutes(self.settings.confirmation_code_seconds),
                },
                {"code": code},
            )
        self.metrics.code(f"confirm-{kind}")
        return PendingFactorView(
            factor_id=factor_id, sent_to=pending.sent_to, expires_at=pending.expires_at, kind=kind
        )

    async def confirm_factor(self, token: str, factor_id: str, code: str) -> FactorView:
        """Activate a pending SMS/e-mail factor with its confirmation code (single use,
        limited attempts); it replaces an earlier factor of the same kind."""
        claims = await self.session(token, two_factor=True)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        problem: Problem | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            pending = await repo.take_pending(conn, factor_id, practice_id, employee_id)
            if pending is None or pending.state == "done":
                raise not_found("No such pending factor.")
            if pending.state == "void" or now >= pending.expires_at:
                raise problems.code_expired()
            expected = self.keyring.open(
                pending.sealed_code, pending_aad(practice_id, employee_id, factor_id)
            ).decode()
            typed = "".join(c for c in code if c.isdigit())
            if not hmac.compare_digest(typed.encode(), expected.encode()):
                attempts = pending.attempts + 1
                void = attempts >= self.settings.confirmation_max_attempts
                await repo.update_pending(conn, factor_id, attempts, "void" if void else "pending")
                problem = Problem(
                    422,
                    "invalid-code",
                    "Code not correct",
                    "Request a new code: too many wrong codes." if void else "Try again.",
                    attempts_left=self.settings.confirmation_max_attempts - attempts,
                )
            else:
                factors = await repo.active_factors(conn, practice_id, employee_id)
                if not any(f.kind == "totp" for f in factors):
                    raise problems.strong_factor_required()
                for factor in factors:
                    if factor.kind == pending.kind:
                        await self._deactivate(conn, factor, now)
                credential = FactorCredential(
                    factor=factor_id,
                    employee=employee_id,
                    kind=pending.kind,
                    sealed=pending.sealed,
                    active=True,
                    created_at=now,
                    version=1,
                    updated_at=now,
                    zone=self.settings.zone,
                )
                await self._write_factor(conn, practice_id, credential, now)
                await repo.update_pending(conn, factor_id, pending.attempts, "done")
                await self.emit(
                    conn,
                    ENROLMENT_EVENTS,
                    "factor.enrolled",
                    practice_id,
                    employee_id,
                    {
                        "factor_id": factor_id,
                        "kind": pending.kind,
                        "replaced": [f.id for f in factors if f.kind == pending.kind],
                        "actor": actors.of_claims(claims),
                    },
                    now,
                )
                employee = await repo.employee(conn, practice_id, employee_id)
                practice = await repo.practice(conn, practice_id)
                if employee is not None:
                    await self._factor_changed(conn, practice, employee, "enrolled", now)
        if problem is not None:
            raise problem
        self.metrics.factor(pending.kind, "enrolled")
        return FactorView(
            factor_id=factor_id,
            kind=pending.kind,
            created_at=now,
            sent_to=pending.sent_to,
        )

    async def regenerate_recovery_code(self, token: str) -> RecoveryCode:
        """A new recovery code; the earlier one no longer works."""
        claims = await self.session(token, two_factor=True)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            practice = await repo.practice(conn, practice_id)
            if employee is None:
                raise problems.session_revoked()
            code = await self._new_recovery_code(conn, practice_id, employee_id, now)
            await self.emit(
                conn,
                ENROLMENT_EVENTS,
                "recovery.regenerated",
                practice_id,
                employee_id,
                {"factor_id": recovery_factor_id(employee_id)},
                now,
            )
            await self._factor_changed(conn, practice, employee, "recovery code regenerated", now)
        self.metrics.factor("recovery", "regenerated")
        return RecoveryCode(recovery_code=code)
