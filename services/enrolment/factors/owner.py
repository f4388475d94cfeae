"""The employee whose own factors a use case changes."""

from __future__ import annotations

import asyncpg

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.domain.records import Employee, Factor, Practice
from shared import factor_kinds


async def lock_owner(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> tuple[Employee, Practice | None]:
    """Lock the employee's factors (one change at a time, in either request) and load the
    employee and the practice; an employee no longer in the directory has no session."""
    await repo.lock_employee_factors(conn, practice_id, employee_id)
    employee = await repo.employee(conn, practice_id, employee_id)
    if employee is None:
        raise problems.session_revoked()
    return employee, await repo.practice(conn, practice_id)


def has_totp(factors: list[Factor]) -> bool:
    """Whether the employee completed the wizard (it sets up the factor whose spec says
    ``wizard``, an authenticator app; other factors are added after that)."""
    return any(factor_kinds.spec(f.kind).wizard for f in factors)
