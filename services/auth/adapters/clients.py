"""The ``clients`` table: registered relying services (last writer wins per client)."""

from __future__ import annotations

import asyncpg

from services.auth.domain.clients import ClientState


async def upsert(conn: asyncpg.Connection, state: ClientState) -> bool:
    """Keep ``state`` if it is newer than what is stored: (version, updated_at, zone)."""
    row = await conn.fetchval(
        """INSERT INTO clients (id, name, secret_hash, active, version, updated_at, zone)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO UPDATE
             SET name = EXCLUDED.name, secret_hash = EXCLUDED.secret_hash,
                 active = EXCLUDED.active, version = EXCLUDED.version,
                 updated_at = EXCLUDED.updated_at, zone = EXCLUDED.zone
           WHERE (clients.version, clients.updated_at, clients.zone)
                 < (EXCLUDED.version, EXCLUDED.updated_at, EXCLUDED.zone)
           RETURNING 1""",
        state.client_id,
        state.name,
        state.secret_hash,
        state.active,
        state.version,
        state.updated_at,
        state.zone,
    )
    return row is not None


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
