"""SQL of the audit trail (table ``audit_events``, migration 005). Every function takes the
caller's connection; the table refuses UPDATE, and DELETE outside :func:`purge`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.enrolment.domain.audit import AuditRecord

_COLUMNS = (
    "event_id, practice, time, recorded_at, action, outcome, actor_user, actor_rights_group, "
    "actor_address, object_type, object_id, source, detail"
)


async def insert(conn: asyncpg.Connection, record: AuditRecord) -> bool:
    """Keep ``record``; False if its event is already kept (a redelivery adds nothing)."""
    inserted = await conn.fetchval(
        """INSERT INTO audit_events (event_id, practice, time, action, outcome, actor_user,
               actor_rights_group, actor_address, object_type, object_id, source, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (event_id) DO NOTHING RETURNING true""",
        record.event_id,
        record.practice,
        record.time,
        record.action,
        record.outcome,
        record.actor.user,
        record.actor.rights_group,
        record.actor.address,
        record.object_type,
        record.object_id,
        record.source,
        record.detail,  # the pool's jsonb codec encodes it
    )
    return bool(inserted)


@dataclass(frozen=True)
class Filters:
    """What an administrator asks for: a time range (``start`` inclusive, ``end``
    exclusive), an employee (as actor, as object, or named in the detail: a grant) and
    actions; None/empty: any."""

    start: datetime | None = None
    end: datetime | None = None
    employee: str | None = None
    actions: tuple[str, ...] = ()


def _where(practice: str, filters: Filters) -> tuple[str, list[Any]]:
    clauses = ["practice = $1"]
    args: list[Any] = [practice]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if filters.start is not None:
        clauses.append(f"time >= {arg(filters.start)}")
    if filters.end is not None:
        clauses.append(f"time < {arg(filters.end)}")
    if filters.employee is not None:
        who = arg(filters.employee)
        clauses.append(
            f"(actor_user = {who} OR (object_type = 'employee' AND object_id = {who}) "
            f"OR detail->>'employee' = {who})"
        )
    if filters.actions:
        clauses.append(f"action = ANY({arg(list(filters.actions))}::text[])")
    return " AND ".join(clauses), args


async def page(
    conn: asyncpg.Connection,
    practice: str,
    filters: Filters,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[asyncpg.Record]:
    """Newest first, at most ``limit`` rows older than ``after`` (keyset on (time, id))."""
    where, args = _where(practice, filters)
    if after is not None:
        args.extend(after)
        where += f" AND (time, event_id) < (${len(args) - 1}, ${len(args)})"
    args.append(limit)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_events WHERE {where} "  # noqa: S608 (built from constants)
        f"ORDER BY time DESC, event_id DESC LIMIT ${len(args)}",
        *args,
    )
    return rows


async def stream(
    conn: asyncpg.Connection, practice: str, filters: Filters, prefetch: int = 500
) -> AsyncIterator[asyncpg.Record]:
    """Every matching row, newest first, through a cursor (the caller's transaction)."""
    where, args = _where(practice, filters)
    query = (
        f"SELECT {_COLUMNS} FROM audit_events WHERE {where} "  # noqa: S608 (built from constants)
        "ORDER BY time DESC, event_id DESC"
    )
    async for row in conn.cursor(query, *args, prefetch=prefetch):
        yield row


async def purge(conn: asyncpg.Connection, before: datetime) -> int:
    """Delete the rows older than ``before`` (the retention job only: it sets the GUC that
    lets the append-only trigger allow a DELETE, for this transaction)."""
    async with conn.transaction():
        await conn.execute("SET LOCAL tweestap.audit_purge = 'on'")
        status = await conn.execute("DELETE FROM audit_events WHERE time < $1", before)
    return int(status.split()[-1])


async def last_used(conn: asyncpg.Connection, practice: str, employee: str) -> dict[str, datetime]:
    """When each of the employee's factors last passed a login (the newest ``login.succeeded``
    record naming its ``factor_id``), by factor id; a factor not in the trail is absent."""
    rows = await conn.fetch(
        """SELECT detail->>'factor_id' AS factor, max(time) AS used
           FROM audit_events
           WHERE practice = $1 AND object_id = $2 AND action = 'login.succeeded'
             AND detail ? 'factor_id'
           GROUP BY 1""",
        practice,
        employee,
    )
    return {row["factor"]: row["used"] for row in rows}
