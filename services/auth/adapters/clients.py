"""The ``clients`` table: registered relying services (last writer wins per field); and a
client's state as it travels on ``auth.credentials``, sealed (only auth, with the keyring,
can register one)."""

from __future__ import annotations

import asyncpg
from pydantic import BaseModel, ValidationError

from services.auth.domain import clients
from services.auth.domain.clients import ClientState
from shared.consumer import InvalidEvent
from shared.merge import Record
from shared.merged_rows import MergedTable
from shared.sealing import Keyring, SealingError

#: Merged field by field (:mod:`shared.merge`).
CLIENTS = MergedTable(
    "clients",
    ("id",),
    (
        "name",
        "secret_hash",
        "active",
        "redirect_uris",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "auth_method",
        "jwks_uri",
        "id_token_alg",
        "min_level",
    ),
)


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
        **{field: row[field] for field in CLIENTS.fields},
        version=row["version"],
        updated_at=row["updated_at"],
        zone=row["zone"],
    )


class ClientPublished(BaseModel):
    """``auth.credentials`` ``client.upserted``: a client's :class:`ClientState`, sealed."""

    client_id: str
    sealed: str


def seal(keyring: Keyring, state: ClientState) -> str:
    return keyring.seal(state.model_dump_json().encode(), clients.client_aad(state.client_id))


def open_sealed(keyring: Keyring, body: ClientPublished) -> ClientState:
    """The state inside a ``client.upserted``; InvalidEvent if it is not the keyring's seal
    of that very client (a forgery, or another client's state copied)."""
    try:
        raw = keyring.open(body.sealed, clients.client_aad(body.client_id))
        state = ClientState.model_validate_json(raw)
    except (SealingError, ValidationError, ValueError):
        raise InvalidEvent("client.upserted: not sealed by this deployment") from None
    if state.client_id != body.client_id:
        raise InvalidEvent("client.upserted: sealed state of another client")
    return state
