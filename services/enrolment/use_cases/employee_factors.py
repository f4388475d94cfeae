"""The administrator and one employee's sign-in methods (issue 25): which are set up, and
removing one (a lost phone that received SMS codes, a passkey on a returned laptop) without
the others — unlike deactivating them all (:meth:`Employees.deactivate`), which also clears a
blocked enrolment and ends the sessions. The removal is the employee's own one's
(:class:`services.enrolment.factors.removal.Removal`: replicated, audited as
``factor.removed`` with who did it, the employee told by e-mail)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.enrolment.adapters import repository as repo
from services.enrolment.api import FactorView
from services.enrolment.factors import listing
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.removal import Removal
from services.enrolment.use_cases.access import Claims
from shared.events import utcnow
from shared.problems import not_found


@dataclass(frozen=True)
class EmployeeFactors:
    pool: asyncpg.Pool
    credentials: Credentials
    removal: Removal

    async def listed(self, practice_id: str, employee_id: str) -> list[FactorView]:
        """The employee's active sign-in methods (the caller is the practice's administrator)."""
        async with self.pool.acquire() as conn:
            if await repo.employee(conn, practice_id, employee_id) is None:
                raise not_found("No such employee in this practice.")
            return await listing.views(conn, self.credentials, practice_id, employee_id)

    async def remove(
        self, claims: Claims, practice_id: str, employee_id: str, factor_id: str
    ) -> None:
        """One active factor of the employee deactivated (:class:`Removal`); another
        employee's, an inactive or an unknown one is 404 and changes nothing."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            factors = await repo.active_factors(conn, practice_id, employee_id)
            factor = next((f for f in factors if f.id == factor_id), None)
            if employee is None or factor is None:
                raise not_found("No such active sign-in method of this employee.")
            practice = await repo.practice(conn, practice_id)
            await self.removal(conn, claims, employee, practice, factor, now)
