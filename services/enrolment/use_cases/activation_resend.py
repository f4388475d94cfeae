"""The administrator resends an employee's activation code (issue 25): the mail did not
arrive, or was deleted. The code of the employee's waiting enrolment is replaced by a new one
with a new validity (the same enrolment, so the wizard the employee has open goes on), mailed
to the employee's own address — never shown to the administrator — and the resend audited
with who did it. Sending stays bounded by the notifier's per-recipient limit."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.enrolment.adapters import repository as repo
from services.enrolment.api import ActivationResent
from services.enrolment.domain.masking import mask_email
from services.enrolment.use_cases.access import Claims
from services.enrolment.use_cases.wizard import StartEnrolment
from shared import actors, otp
from shared.events import utcnow
from shared.outbox import EventWriter
from shared.problems import Problem, not_found
from shared.topics import ENROLMENT_EVENTS

RESENT = "enrolment.code_resent"


def nothing_waiting() -> Problem:
    return Problem(
        409,
        "no-activation-waiting",
        "No activation code is waiting",
        "The employee has not started setting up the app, or already used the code; a code "
        "is sent when they log in and start.",
    )


@dataclass(frozen=True)
class ResendActivation:
    pool: asyncpg.Pool
    start: StartEnrolment
    events: EventWriter

    async def __call__(
        self, claims: Claims, practice_id: str, employee_id: str
    ) -> ActivationResent:
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            practice = await repo.practice(conn, practice_id)
            if employee is None or practice is None:
                raise not_found("No such employee in this practice.")
            waiting = await repo.waiting_enrolment(conn, practice_id, employee_id)
            if waiting is None or not employee.email:
                raise nothing_waiting()
            code, expires_at = self.start.new_code(now)
            await repo.replace_code(conn, waiting, otp.code_hash(code), expires_at)
            await self.start.mail_code(conn, practice, employee, code)
            await self.events.emit(
                conn,
                ENROLMENT_EVENTS,
                RESENT,
                practice_id,
                employee_id,
                {
                    "employee": employee_id,
                    "enrolment_id": waiting,
                    "expires_at": expires_at.isoformat(),
                    "actor": actors.of_claims(claims),
                },
                now,
            )
        return ActivationResent(
            enrolment_id=waiting, sent_to=mask_email(employee.email), expires_at=expires_at
        )
