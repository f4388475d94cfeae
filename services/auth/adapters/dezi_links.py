"""Who a Dezi number is, in auth's copy of the directory: the employees with that number
(``employees.dezi_number``, recorded by the administrator or linked by the employee in
enrolment) and their practices' URA (``practices.ura``)."""

from __future__ import annotations

import asyncpg

from services.auth.domain.dezi import Linked


async def linked(conn: asyncpg.Connection, dezi_number: str) -> list[Linked]:
    """Every employee with ``dezi_number`` (in any practice) and their practice's URA."""
    rows = await conn.fetch(
        """SELECT e.practice, e.id, p.ura
             FROM employees e JOIN practices p ON p.id = e.practice
            WHERE e.dezi_number = $1
            ORDER BY e.practice, e.id""",
        dezi_number,
    )
    return [Linked(r["practice"], r["id"], r["ura"] or None) for r in rows]


async def practice_ura(conn: asyncpg.Connection, practice: str) -> str | None:
    ura: str | None = await conn.fetchval("SELECT ura FROM practices WHERE id = $1", practice)
    return ura or None
