"""SMS and e-mail factors (codes sent to an address; weak: only for an employee who has an
authenticator app). Adding one sends a confirmation code; the code activates it."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.adapters.notices import Notices
from services.enrolment.api import FactorView, PendingFactorView
from services.enrolment.domain import enrolment as steps
from services.enrolment.domain.masking import mask
from services.enrolment.domain.records import PendingFactor, WeakKind
from services.enrolment.factors import EnrolledFactor
from services.enrolment.factors.changes import FactorChanges
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.owner import has_totp, lock_owner
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.problems import HOUR
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.use_cases.access import Access
from shared import otp
from shared.events import utcnow
from shared.problems import Problem, not_found
from shared.sealing import Keyring

KINDS: tuple[WeakKind, ...] = ("sms", "email")


def pending_aad(practice: str, employee: str, factor_id: str) -> str:
    return f"pending-factor:{practice}:{employee}:{factor_id}"


def details(body: dict[str, Any]) -> dict[str, Any]:
    """What the employee's list shows of an SMS/e-mail factor: where codes go, masked."""
    to = body.get("to")
    return {"sent_to": mask(to) if isinstance(to, str) else None}


FACTOR = EnrolledFactor(KINDS, details)


@dataclass
class CodeFactors:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    keyring: Keyring
    access: Access
    credentials: Credentials
    changes: FactorChanges
    notices: Notices
    metrics: EnrolmentMetrics

    async def request(self, token: str, kind: WeakKind, address: str | None) -> PendingFactorView:
        """Enrol an SMS or e-mail factor (weak: only for an employee with a strong factor):
        a confirmation code goes to the address, :meth:`confirm` activates it."""
        claims = await self.access.factor_change(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            employee, practice = await lock_owner(conn, practice_id, employee_id)
            if not has_totp(await repo.active_factors(conn, practice_id, employee_id)):
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
                sealed=self.credentials.seal(practice_id, employee_id, factor_id, {"to": address}),
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
            await self.notices.send(
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

    async def confirm(self, token: str, factor_id: str, code: str) -> FactorView:
        """Activate a pending SMS/e-mail factor with its confirmation code (single use,
        limited attempts); it replaces an earlier factor of the same kind."""
        claims = await self.access.factor_change(token)
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
                await self._activate(conn, claims, pending, now)
        if problem is not None:
            raise problem
        self.metrics.factor(pending.kind, "enrolled")
        return FactorView(
            factor_id=factor_id, kind=pending.kind, created_at=now, sent_to=pending.sent_to
        )

    async def _activate(
        self,
        conn: asyncpg.Connection,
        claims: dict[str, Any],
        pending: PendingFactor,
        now: datetime,
    ) -> None:
        practice_id, employee_id = pending.practice, pending.employee
        factors = await repo.active_factors(conn, practice_id, employee_id)
        if not has_totp(factors):
            raise problems.strong_factor_required()
        replaced = [f for f in factors if f.kind == pending.kind]
        for factor in replaced:
            await self.credentials.deactivate(conn, factor, now)
        await self.credentials.add(
            conn, practice_id, employee_id, pending.id, pending.kind, pending.sealed, now
        )
        await repo.update_pending(conn, pending.id, pending.attempts, "done")
        await self.changes.enrolled(conn, claims, pending.id, pending.kind, replaced, now)
