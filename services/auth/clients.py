"""Registered relying services (RFC 7662 §2.1): register, remove, list, authenticate them,
and apply the other zone's registrations. A client's state travels sealed on
``auth.credentials``, so both zones know every client and only auth (with the keyring) can
register one; the secret itself never leaves the command that made it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import asyncpg
from pydantic import BaseModel, ValidationError

from services.auth.adapters import clients as repo
from services.auth.domain import clients
from services.auth.domain.clients import ClientState
from services.auth.settings import AuthSettings
from shared.consumer import Handler, InvalidEvent
from shared.events import Envelope, stamped, utcnow
from shared.merge import edit
from shared.outbox import EventWriter
from shared.problems import Problem, not_found
from shared.sealing import Keyring, SealingError
from shared.topics import AUTH_CREDENTIALS

#: RFC 7235 challenge of a 401 at the introspection endpoint.
BASIC_CHALLENGE = 'Basic realm="tweestap", charset="UTF-8"'


class ClientPublished(BaseModel):
    """``auth.credentials`` ``client.upserted``: a client's :class:`ClientState`, sealed."""

    client_id: str
    sealed: str


def unauthenticated_client() -> Problem:
    return Problem(
        401,
        "invalid-client",
        "Client not authenticated",
        "Introspection is for registered relying services: HTTP Basic client_id and secret.",
        headers={"WWW-Authenticate": BASIC_CHALLENGE},
    )


def client_removed(client_id: str) -> Problem:
    return Problem(
        409,
        "client-removed",
        "Client removed",
        f"Client {client_id} was removed. To register it again, with a new secret: "
        f"tweestap client add {client_id} --reactivate",
    )


@dataclass
class Clients(EventWriter):
    settings: AuthSettings
    pool: asyncpg.Pool
    keyring: Keyring
    #: Active clients as found in the database, and when (``client_cache_seconds``).
    _believed: dict[str, tuple[ClientState, float]] = field(
        default_factory=dict, init=False, repr=False
    )

    async def add(self, client_id: str, name: str, *, reactivate: bool = False) -> str:
        """Register ``client_id`` (or give an active one a new secret); returns the secret,
        once. A removed client comes back only with ``reactivate`` (409 ``client-removed``
        otherwise): an id reused by mistake must not revive a client someone removed."""
        secret = clients.new_secret()
        await self._write(
            client_id, name, clients.secret_hash(secret), active=True, reactivate=reactivate
        )
        return secret

    async def remove(self, client_id: str) -> None:
        async with self.pool.acquire() as conn:
            current = await repo.get(conn, client_id)
        if current is None or not current.active:
            raise not_found("No such client.")
        await self._write(client_id, current.name, current.secret_hash, active=False)

    async def active(self) -> list[ClientState]:
        async with self.pool.acquire() as conn:
            return await repo.all_active(conn)

    async def authenticate(self, authorization: str | None) -> ClientState:
        """The registered, active client of an ``Authorization: Basic`` header; 401 with a
        Basic challenge otherwise (the same answer for an unknown client and a wrong
        secret)."""
        credentials = clients.basic_credentials(authorization)
        if credentials is None:
            raise unauthenticated_client()
        client_id, secret = credentials
        state = await self._active(client_id)
        hashed = state.secret_hash if state is not None else None
        if state is None or not clients.secret_matches(secret, hashed):
            raise unauthenticated_client()
        return state

    async def _active(self, client_id: str) -> ClientState | None:
        """The client if it is registered and active, from memory while that is fresh enough.
        Only clients found active are remembered: their number is the registrations'."""
        now = time.monotonic()
        believed = self._believed.get(client_id)
        if believed is not None and now - believed[1] < self.settings.client_cache_seconds:
            return believed[0]
        state = await repo.get(self.pool, client_id)
        if state is None or not state.active:
            self._believed.pop(client_id, None)
            return None
        self._believed[client_id] = (state, now)
        return state

    async def _write(
        self, client_id: str, name: str, hashed: str, active: bool, *, reactivate: bool = False
    ) -> None:
        self._believed.pop(client_id, None)
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", client_id)
            current = await repo.merged(conn, client_id)
            if active and not reactivate and current is not None and not current.values["active"]:
                raise client_removed(client_id)
            # Only the changed fields get the new stamp: a new secret given in one zone does
            # not undo a removal made meanwhile in the other.
            changes = {"name": name, "secret_hash": hashed, "active": active}
            merged = edit(current, changes, now, self.settings.zone)
            state = ClientState(client_id=client_id, **stamped(merged))
            await repo.upsert(conn, state)
            body = ClientPublished(client_id=client_id, sealed=seal(self.keyring, state))
            await self.emit(
                conn,
                AUTH_CREDENTIALS,
                clients.CLIENT_EVENT,
                clients.DEPLOYMENT,
                clients.subject(client_id),
                body.model_dump(mode="json"),
                now,
            )


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


def on_client(keyring: Keyring) -> Handler:
    """Apply a client's state from either zone (last writer wins)."""

    async def handle(conn: asyncpg.Connection, event: Envelope) -> None:
        try:
            body = ClientPublished.model_validate(event.data)
        except ValidationError:
            raise InvalidEvent("client.upserted: malformed") from None
        await repo.upsert(conn, open_sealed(keyring, body))

    return handle
