"""The recovery code: one per employee (a new one replaces the earlier one), issued by the
wizard's confirm step and on the employee's request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.enrolment.adapters.notices import Notices
from services.enrolment.api import RecoveryCode
from services.enrolment.factors import EnrolledFactor
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.owner import lock_owner
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.use_cases.access import Access
from shared import otp
from shared.events import recovery_factor_id, utcnow
from shared.outbox import EventWriter
from shared.topics import ENROLMENT_EVENTS

#: One per employee: a new code replaces the earlier one (under the same factor id).
FACTOR = EnrolledFactor(("recovery",))


@dataclass
class RecoveryCodes:
    pool: asyncpg.Pool
    access: Access
    credentials: Credentials
    events: EventWriter
    notices: Notices
    metrics: EnrolmentMetrics

    async def issue(
        self, conn: asyncpg.Connection, practice: str, employee: str, now: datetime
    ) -> str:
        """A new recovery code replacing the employee's earlier one (one id per employee)."""
        code = otp.recovery_code()
        factor_id = recovery_factor_id(employee)
        sealed = self.credentials.seal(practice, employee, factor_id, {"hash": otp.code_hash(code)})
        changes = {
            "employee": employee,
            "kind": "recovery",
            "sealed": sealed,
            "active": True,
            "created_at": now,
            "confirmed_step": None,
        }
        await self.credentials.change(conn, practice, factor_id, changes, now)
        return code

    async def regenerate(self, token: str) -> RecoveryCode:
        """A new recovery code; the earlier one no longer works."""
        claims = await self.access.factor_change(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            employee, practice = await lock_owner(conn, practice_id, employee_id)
            code = await self.issue(conn, practice_id, employee_id, now)
            await self.events.emit(
                conn,
                ENROLMENT_EVENTS,
                "recovery.regenerated",
                practice_id,
                employee_id,
                {"factor_id": recovery_factor_id(employee_id)},
                now,
            )
            await self.notices.factor_changed(
                conn, practice, employee, "recovery code regenerated", now
            )
        self.metrics.factor("recovery", "regenerated")
        return RecoveryCode(recovery_code=code)
