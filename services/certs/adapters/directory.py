"""The practices and employees this store holds, replicated from the directory: who
administers a practice (the token gate reads it) and who may be granted a certificate."""

from __future__ import annotations

import asyncpg

from shared.replicas import directory

#: The directory as this store keeps it (:mod:`shared.replicas.directory`).
DIRECTORY = directory.Directory(
    directory.practices(("name", "email", "two_factor_required")),
    directory.employees(("name", "rights_group", "in_service")),
)
upsert_practice, upsert_employee = DIRECTORY.upsert_practice, DIRECTORY.upsert_employee


async def employee(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, in_service FROM employees WHERE practice = $1 AND id = $2",
        practice_id,
        employee_id,
    )
    return row
