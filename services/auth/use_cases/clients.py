"""Registered relying services (RFC 7662 §2.1): register, remove, list and authenticate them.
A client's state travels sealed on ``auth.credentials``, so both zones know every client; the
secret itself never leaves the command that made it.

An active client is remembered once read, and believed without a database read while the
liveness state (:mod:`shared.liveness`, docs/adr/0015) proves nothing of it changed since:
its stamp for the client, taken *before* the read, is still the same. A change committed in
this database (a removal, a new secret, by a command, a consumer applying the other zone's
``client.upserted``, any process) is so refused at most ``max_staleness`` seconds after its
commit, in practice within its notification's delivery. The races, for a write W of the
client and a read R of it (stamp S taken before R's SELECT):

- W committed before S was taken, its message applied before S: R's snapshot holds W (the
  message is sent at commit), S counts it. R is believed.
- W committed before R's snapshot, its message applied after S was taken: R holds W; the
  message changes the stamp, so R is read again once (needlessly, never wrongly).
- W committed after R's snapshot (also: during R's SELECT, which reads one snapshot): R
  lacks W. W's message is sent at its commit, so it is applied after S was taken and changes
  the stamp: from then on R is not believed. Until then the state is current only while the
  newest heartbeat back was sent less than ``max_staleness`` ago, and a heartbeat sent after
  W's commit comes back after W's message (commit order): R is believed at most
  ``max_staleness`` after W's commit.
- The state lost its connection or was reloaded: no stamp (not current), or the reload's
  stamps differ from every older one: read again.

Without liveness (``TWEESTAP_LIVENESS_MAX_STALENESS_SECONDS=0``) or while it is not current, a
client read is believed for ``cache_seconds`` (a removal is refused at most that long after).
A write by this process (:meth:`Clients._write`) is seen by its next request in any case: it
counts the client's writes here, and an entry read before a write's commit is not believed
after it."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from services.auth import problems
from services.auth.adapters import clients as repo
from services.auth.domain import clients
from services.auth.domain.clients import ClientState
from shared.events import stamped, utcnow
from shared.liveness import ClientStamp, Liveness
from shared.merge import edit
from shared.outbox import EventWriter
from shared.problems import not_found
from shared.sealing import Keyring
from shared.topics import AUTH_CREDENTIALS


@dataclass(frozen=True)
class _Believed:
    """An active client as read, with what proves it unchanged since."""

    state: ClientState
    #: When it was read (monotonic seconds): the ``cache_seconds`` rule.
    read_at: float
    #: The liveness stamp taken before the read (None: the state was not current).
    stamp: ClientStamp | None
    #: This process's writes of the client counted before the read.
    writes: int


@dataclass(frozen=True)
class Clients:
    pool: asyncpg.Pool
    keyring: Keyring
    events: EventWriter
    zone: str
    #: How long an active client found in the database is believed without asking again,
    #: while the liveness state cannot prove it unchanged.
    cache_seconds: float
    #: The session state in memory, whose stamps prove a client unchanged (None: off).
    liveness: Liveness | None = None
    #: Active clients as found in the database.
    _believed: dict[str, _Believed] = field(default_factory=dict, init=False, repr=False)
    #: Writes of each client by this process, counted after their commit.
    _writes: Counter[str] = field(default_factory=Counter, init=False, repr=False)

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
        """The client if it is registered and active, from memory while it is proven
        unchanged (or, without a current liveness state, fresh enough). Only clients found
        active are remembered: their number is the registrations'."""
        now = time.monotonic()
        stamp = None if self.liveness is None else self.liveness.client_stamp(client_id)
        writes = self._writes[client_id]
        believed = self._believed.get(client_id)
        if believed is not None and self._still(believed, stamp, writes, now):
            self._count(from_memory=True)
            return believed.state
        self._count(from_memory=False)
        state = await repo.get(self.pool, client_id)
        if state is None or not state.active:
            self._believed.pop(client_id, None)
            return None
        self._believed[client_id] = _Believed(state, now, stamp, writes)
        return state

    def _still(
        self, believed: _Believed, stamp: ClientStamp | None, writes: int, now: float
    ) -> bool:
        """Whether ``believed`` may answer: proven unchanged by the stamp when there is one,
        else read less than ``cache_seconds`` ago; never across a write here."""
        if believed.writes != writes:
            return False
        if stamp is not None:
            return believed.stamp == stamp
        return now - believed.read_at < self.cache_seconds

    def _count(self, from_memory: bool) -> None:
        if self.liveness is not None:
            self.liveness.count("client", from_memory)

    async def get(self, client_id: str) -> ClientState | None:
        """The client if it is registered and active (remembered as :meth:`_active` says)."""
        return await self._active(client_id)

    async def _write(
        self, client_id: str, changes: dict[str, object], *, reactivate: bool = False
    ) -> None:
        self._believed.pop(client_id, None)
        try:
            await self._commit(client_id, changes, reactivate)
        finally:  # committed or not: what was read before it is read again
            self._writes[client_id] += 1

    async def _commit(self, client_id: str, changes: dict[str, object], reactivate: bool) -> None:
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
