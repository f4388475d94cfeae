"""The practices and employees this store holds, replicated from the directory: who
administers a practice (the token gate reads it) and who may be granted a certificate."""

from __future__ import annotations

import asyncpg

from shared.events import EmployeeUpserted, PracticeUpserted
from shared.merged_rows import MergedTable

#: Practices and employees as this store keeps them, merged field by field (:mod:`shared.merge`).
PRACTICES = MergedTable("practices", ("id",), ("name", "email", "two_factor_required"))
EMPLOYEES = MergedTable("employees", ("practice", "id"), ("name", "rights_group", "in_service"))


async def upsert_practice(conn: asyncpg.Connection, practice: str, ev: PracticeUpserted) -> bool:
    return await PRACTICES.upsert(conn, (practice,), PRACTICES.state_of(ev))


async def upsert_employee(conn: asyncpg.Connection, practice: str, ev: EmployeeUpserted) -> bool:
    return await EMPLOYEES.upsert(conn, (practice, ev.employee), EMPLOYEES.state_of(ev))


async def employee(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, in_service FROM employees WHERE practice = $1 AND id = $2",
        practice_id,
        employee_id,
    )
    return row
