"""Registered relying services (RFC 7662 §2.1): register, remove, list and authenticate them.
A client's state travels sealed on ``auth.credentials``, so both zones know every client; the
secret itself never leaves the command that made it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import asyncpg

from services.auth import problems
from services.auth.adapters import clients as repo
from services.auth.domain import clients
from services.auth.domain.clients import ClientState
from shared.events import stamped, utcnow
from shared.merge import edit
from shared.outbox import EventWriter
from shared.problems import not_found
from shared.sealing import Keyring
from shared.topics import AUTH_CREDENTIALS


@dataclass(frozen=True)
class Clients:
    pool: asyncpg.Pool
    keyring: Keyring
    events: EventWriter
    zone: str
    #: How long an active client found in the database is believed without asking again.
    cache_seconds: float
    #: Active clients as found in the database, and when.
    _believed: dict[str, tuple[ClientState, float]] = field(
        default_factory=dict, init=False, repr=False
    )

    async def add(self, client_id: str, name: str, *, reactivate: bool = False) -> str:
        """Register a client with a secret (a relying service that introspects); its secret."""
        secret = await self.register(client_id, name, clients.Registration(), reactivate)
        assert secret is not None  # a client_secret_basic client always gets one
        return secret

    async def register(
        self,
        client_id: str,
        name: str,
        registration: clients.Registration,
        reactivate: bool = False,
    ) -> str | None:
        """Register ``client_id`` (or give an active one a new secret and ``registration``);
        returns the secret, once (None for a client without one: public, or signing its own
        assertions). A removed client comes back only with ``reactivate`` (409
        ``client-removed`` otherwise): an id reused by mistake must not revive a client
        someone removed."""
        secret = clients.new_secret() if registration.auth_method == "client_secret_basic" else None
        changes = {
            "name": name,
            "secret_hash": clients.secret_hash(secret) if secret else None,
            "active": True,
            **registration.fields(),
        }
        await self._write(client_id, changes, reactivate=reactivate)
        return secret

    async def remove(self, client_id: str) -> None:
        async with self.pool.acquire() as conn:
            current = await repo.get(conn, client_id)
        if current is None or not current.active:
            raise not_found("No such client.")
        await self._write(client_id, {"active": False})

    async def active(self) -> list[ClientState]:
        async with self.pool.acquire() as conn:
            return await repo.all_active(conn)

    async def authenticate(self, authorization: str | None) -> ClientState:
        """The registered, active client of an ``Authorization: Basic`` header; 401 with a
        Basic challenge otherwise (the same answer for an unknown client and a wrong
        secret)."""
        credentials = clients.basic_credentials(authorization)
        if credentials is None:
            raise problems.unauthenticated_client()
        client_id, secret = credentials
        state = await self._active(client_id)
        hashed = state.secret_hash if state is not None else None
        if state is None or not clients.secret_matches(secret, hashed):
            raise problems.unauthenticated_client()
        return state

    async def _active(self, client_id: str) -> ClientState | None:
        """The client if it is registered and active, from memory while that is fresh enough.
        Only clients found active are remembered: their number is the registrations'."""
        now = time.monotonic()
        believed = self._believed.get(client_id)
        if believed is not None and now - believed[1] < self.cache_seconds:
            return believed[0]
        state = await repo.get(self.pool, client_id)
        if state is None or not state.active:
            self._believed.pop(client_id, None)
            return None
        self._believed[client_id] = (state, now)
        return state

    async def get(self, client_id: str) -> ClientState | None:
        """The client if it is registered and active (believed for ``cache_seconds``)."""
        return await self._active(client_id)

    async def _write(
        self, client_id: str, changes: dict[str, object], *, reactivate: bool = False
    ) -> None:
        self._believed.pop(client_id, None)
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", client_id)
            current = await repo.merged(conn, client_id)
            removed = current is not None and not current.values["active"]
            if changes.get("active") and not reactivate and removed:
                raise problems.client_removed(client_id)
            # Only the changed fields get the new stamp: a new secret given in one zone does
            # not undo a removal made meanwhile in the other.
            merged = edit(current, changes, now, self.zone)
            state = ClientState(client_id=client_id, **stamped(merged))
            await repo.upsert(conn, state)
            body = repo.ClientPublished(client_id=client_id, sealed=repo.seal(self.keyring, state))
            await self.events.emit(
                conn,
                AUTH_CREDENTIALS,
                clients.CLIENT_EVENT,
                clients.DEPLOYMENT,
                clients.subject(client_id),
                body.model_dump(mode="json"),
                now,
            )
