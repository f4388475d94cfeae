"""The used TOTP time steps (table ``totp_steps``), the authenticator factor's own state: a
grow-only set per employee, replicated between the zones (``totp.used``), in which steps only
go forward (DESIGN §5)."""

from __future__ import annotations

import asyncpg

from services.auth.adapters.repository import Spend


async def add(
    conn: asyncpg.Connection, practice: str, employee: str, factor: str, step: int
) -> bool:
    """Record a used time step; False if it was used before (also concurrently: the insert
    waits for a competing transaction and then conflicts)."""
    status: str = await conn.execute(
        "INSERT INTO totp_steps (practice, employee, factor, step) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING",
        practice,
        employee,
        factor,
        step,
    )
    return status.endswith(" 1")


async def history(
    conn: asyncpg.Connection, practice: str, employee: str, factor: str, step: int
) -> tuple[int | None, bool]:
    """The employee's last used time step (every factor, every zone as replicated here), and
    whether ``step`` itself was used with ``factor``."""
    row = await conn.fetchrow(
        "SELECT max(step) AS last, coalesce(bool_or(factor = $3 AND step = $4), false) AS used "
        "FROM totp_steps WHERE practice = $1 AND employee = $2",
        practice,
        employee,
        factor,
        step,
    )
    return row["last"], bool(row["used"])


def spend(factor: str, step: int) -> Spend:
    """The step spent by the statement that completes the login, only if it comes after the
    employee's last used one (steps only go forward)."""
    return Spend(
        """INSERT INTO totp_steps (practice, employee, factor, step)
           SELECT $2, $3, {0}, {1} FROM open_login
           WHERE NOT EXISTS (SELECT 1 FROM totp_steps
                             WHERE practice = $2 AND employee = $3 AND step >= {1})
           ON CONFLICT DO NOTHING RETURNING 1""",
        (factor, step),
    )
