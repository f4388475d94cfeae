"""The ``clients`` table: registered relying services (last writer wins per field)."""

from __future__ import annotations

import asyncpg

from services.auth.domain.clients import ClientState
from shared.merge import Record
from shared.merged_rows import MergedTable

#: Merged field by field (:mod:`shared.merge`).
CLIENTS = MergedTable("clients", ("id",), ("name", "secret_hash", "active"))


async def upsert(conn: asyncpg.Connection, state: ClientState) -> bool:
    """Merge ``state`` into what is stored; True if anything changed."""
    return await CLIENTS.upsert(conn, (state.client_id,), CLIENTS.state_of(state))


async def merged(conn: asyncpg.Connection, client_id: str) -> Record | None:
    """The stored state with its per-field stamps (for a writer: :func:`shared.merge.edit`)."""
    return await CLIENTS.load(conn, (client_id,))


async def get(conn: asyncpg.Connection | asyncpg.Pool, client_id: str) -> ClientState | None:
    row = await conn.fetchrow("SELECT * FROM clients WHERE id = $1", client_id)
    return _state(row) if row else None


async def all_active(conn: asyncpg.Connection) -> list[ClientState]:
    rows = await conn.fetch("SELECT * FROM clients WHERE active ORDER BY id")
    return [_state(r) for r in rows]


def _state(row: asyncpg.Record) -> ClientState:
    return ClientState(
        client_id=row["id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        active=row["active"],
        version=row["version"],
        updated_at=row["updated_at"],
        zone=row["zone"],
    )
