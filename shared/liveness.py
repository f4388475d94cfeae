"""A session's liveness without a database round trip (docs/adr/0015): each process keeps in
memory what :func:`shared.gate.session_state_sql` reads — revoked sessions (until their
session's end), every employee's cutoff, in-service and rights group, every practice's
two-factor rule — loaded at start and kept current by the database's ``LISTEN/NOTIFY``
(triggers on those tables, ``liveness_notify`` in ``shared/migrations``: every writer, a
request of any process, a consumer, a command, is heard by every process of the database).
It also counts the changes of each relying service (``clients``), without holding them: a
client read from the database is believed while its count is unchanged
(:meth:`Liveness.client_stamp`).

The state answers only while it can prove it is current: its listening connection is up and
a heartbeat it sent on that connection came back within ``max_staleness`` seconds (messages
arrive in commit order, so everything committed before the heartbeat was sent has been
applied). Otherwise, and for anything it does not hold or a key this process is writing, it
answers None and the caller asks the database as before: the same answers, only slower.

:class:`State` is the pure part (tested against PostgreSQL's answers); :class:`Liveness` adds
the listening connection."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import os
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from shared.backoff import Backoff

log = logging.getLogger(__name__)

CHANNEL = "tweestap_liveness"
#: A revocation is remembered this long after its session's end, as housekeeping keeps it in
#: the database (no token of the session is valid by then, leeway included).
KEEP_AFTER_END = timedelta(hours=1)
#: A key this process is writing is answered by the database until the write's message has
#: arrived, or this long (a write that rolled back sends none).
WRITING_SECONDS = 10.0
#: More entries than this and the state stops answering (the database does) until it reloads.
MAX_ENTRIES = 5_000_000

EmployeeKey = tuple[str, str]
#: Proof that no change of a client was applied since it was taken: (the state's load, the
#: clients' truncations, that client's changes). Equal stamps: nothing of the client changed.
ClientStamp = tuple[int, int, int]


@dataclass(frozen=True)
class Employee:
    in_service: bool
    rights_group: int
    #: The employee's other columns a gate reads with the state (``columns``).
    columns: Mapping[str, Any]


def _time(value: Any) -> datetime:
    """A timestamp as a notification carries it (ISO 8601, to the microsecond) or as read."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class State:
    """The liveness tables as this process holds them: pure, no I/O."""

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns
        self.revoked: dict[str, datetime] = {}
        self.cutoffs: dict[EmployeeKey, datetime] = {}
        self.employees: dict[EmployeeKey, Employee] = {}
        self.practices: dict[str, bool] = {}
        #: Changes heard per client id (not the rows: the client's reader reads them), and
        #: truncations of the whole table.
        self.client_changes: dict[str, int] = {}
        self.clients_truncated = 0
        #: (when to forget, sid): revocations in the order they may be forgotten.
        self._ending: list[tuple[datetime, str]] = []

    def size(self) -> int:
        return (
            len(self.revoked)
            + len(self.cutoffs)
            + len(self.employees)
            + len(self.practices)
            + len(self.client_changes)
        )

    def client_count(self, client_id: str) -> tuple[int, int]:
        """How often the clients were truncated, and ``client_id`` changed, as heard."""
        return self.clients_truncated, self.client_changes.get(client_id, 0)

    def revoke(self, sid: str, session_expires_at: datetime) -> None:
        """A grow-only set; a session revoked twice keeps the latest end (as the table)."""
        current = self.revoked.get(sid)
        if current is None or session_expires_at > current:
            self.revoked[sid] = session_expires_at
            heapq.heappush(self._ending, (session_expires_at + KEEP_AFTER_END, sid))

    def cut(self, practice: str, employee: str, before: datetime) -> None:
        """A max-register, as ``session_cutoffs``."""
        key = (practice, employee)
        current = self.cutoffs.get(key)
        if current is None or before > current:
            self.cutoffs[key] = before

    def employee(self, row: Mapping[str, Any]) -> None:
        self.employees[(row["practice"], row["id"])] = Employee(
            bool(row["in_service"]),
            int(row["rights_group"]),
            {c: row.get(c) for c in self.columns},
        )

    def forget_ended(self, now: datetime) -> None:
        """Forget revocations of sessions ended more than :data:`KEEP_AFTER_END` ago."""
        while self._ending and self._ending[0][0] < now:
            _, sid = heapq.heappop(self._ending)
            expires = self.revoked.get(sid)
            if expires is not None and expires + KEEP_AFTER_END < now:
                del self.revoked[sid]

    def apply(self, message: Mapping[str, Any]) -> tuple[str, str | EmployeeKey] | None:
        """One change as ``liveness_notify`` announces it; the key it touched, if any."""
        table = message.get("table")
        if table == "clients":
            return self._client(message)
        if message.get("truncated"):
            tables: dict[str, dict[Any, Any]] = {
                "revocations": self.revoked,
                "session_cutoffs": self.cutoffs,
                "employees": self.employees,
                "practices": self.practices,
            }
            tables[str(table)].clear()
            return None
        row: Mapping[str, Any] = message["row"]
        deleted = bool(message.get("deleted"))
        if table == "revocations":
            if not deleted:
                self.revoke(row["sid"], _time(row["session_expires_at"]))
            return ("sid", row["sid"])
        if table == "session_cutoffs":
            key = (row["practice"], row["employee"])
            if deleted:
                self.cutoffs.pop(key, None)
            else:
                # The table's row is the register's value: set it (it only grows there).
                self.cutoffs[key] = _time(row["before"])
            return ("employee", key)
        if table == "employees":
            key = (row["practice"], row["id"])
            if deleted:
                self.employees.pop(key, None)
            else:
                self.employee(row)
            return ("employee", key)
        if table == "practices":
            if deleted:
                self.practices.pop(row["id"], None)
            else:
                self.practices[row["id"]] = bool(row["two_factor_required"])
            return ("practice", row["id"])
        raise ValueError(f"not a liveness table: {table!r}")

    def _client(self, message: Mapping[str, Any]) -> tuple[str, str] | None:
        """A client changed (or all did): its count grows. Counts only grow until the table
        is truncated, which forgets them and counts the truncation instead."""
        if message.get("truncated"):
            self.client_changes.clear()
            self.clients_truncated += 1
            return None
        client_id = str(message["row"]["id"])
        self.client_changes[client_id] = self.client_changes.get(client_id, 0) + 1
        return ("client", client_id)

    def row(
        self, practice: str, employee: str, sid: str, sso_sid: str, now: datetime
    ) -> dict[str, Any] | None:
        """What :func:`shared.gate.session_state_sql` would return, or None when this state
        does not know the employee or the practice (the database then answers)."""
        person = self.employees.get((practice, employee))
        if person is None or practice not in self.practices:
            return None
        return {
            **person.columns,
            "in_service": person.in_service,
            "rights_group": person.rights_group,
            "two_factor_required": self.practices[practice],
            "revoked": self._revoked(sid, now) or self._revoked(sso_sid, now),
            "cutoff": self.cutoffs.get((practice, employee)),
        }

    def _revoked(self, sid: str, now: datetime) -> bool:
        expires = self.revoked.get(sid)
        return expires is not None and expires + KEEP_AFTER_END >= now


def renewable(state: Mapping[str, Any], single_factor: bool, auth_time: datetime) -> bool:
    """Whether a session may be renewed, by a state row: the rules of the renewal statement
    (``services/auth/adapters/repository.py``, ``_RENEWAL_STATE``)."""
    cutoff = state["cutoff"]
    return (
        bool(state["in_service"])
        and not state["revoked"]
        and not (cutoff is not None and cutoff >= auth_time)
        and not (state["two_factor_required"] and single_factor)
    )


#: Every :class:`Liveness` of this process, told of the writes its requests make.
_ALL: weakref.WeakSet[Liveness] = weakref.WeakSet()


def _ignore(check: str, source: str) -> None:
    """No one counts the answers."""


def writing(
    sid: str | None = None, employee: EmployeeKey | None = None, practice: str | None = None
) -> None:
    """This process is about to write a revocation of ``sid``, ``employee``'s cutoff or row, or
    ``practice``'s row (a request, or a consumer applying the other zone's events): until its
    message arrives (after the commit), the database answers for that key, so the next request
    here sees the write even before the message does."""
    for liveness in list(_ALL):
        liveness.hold(sid, employee, practice)


class Liveness:
    """The state, its listening connection, and whether it is current."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        columns: tuple[str, ...],
        max_staleness: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self.columns = columns
        self.max_staleness = max_staleness
        self._clock = clock
        self.state = State(columns)
        self._ready = False
        self._buffer: list[Mapping[str, Any]] | None = None
        self._token = f"{os.getpid()}-{id(self):x}"
        self._sent: dict[int, float] = {}
        self._seq = itertools.count()
        self._proven_at = float("-inf")
        #: Keys this process is writing, until when (the first message for the key ends it:
        #: with several processes' states in one process, as in tests, a count could not).
        self._held: dict[tuple[str, str | EmployeeKey | None], float] = {}
        self._conn: asyncpg.Connection | None = None
        #: Sessions' liveness answered from memory and left to the database (tests).
        self.answered = 0
        self.fell_back = 0
        #: Answers by (check, source), as :meth:`count` was told of them.
        self.answers: Counter[tuple[str, str]] = Counter()
        #: Told of every answer: what was checked (``session``, ``client``) and where it was
        #: answered (``memory``, ``database``); the metrics count them.
        self.on_answer: Callable[[str, str], None] = _ignore
        #: Loads of the state so far: a stamp taken before a reload never equals one after.
        self._loads = 0
        _ALL.add(self)

    # -- answering ------------------------------------------------------------------------

    def current(self) -> bool:
        """Whether this state can prove it holds every change committed more than
        ``max_staleness`` seconds ago."""
        return (
            self._ready
            and self._clock() - self._proven_at <= self.max_staleness
            and self.state.size() <= MAX_ENTRIES
        )

    def proven_at(self) -> float:
        """When (the clock's) the newest heartbeat that came back was sent: every change
        committed before it has been applied."""
        return self._proven_at

    def staleness(self) -> float | None:
        """Seconds since the newest heartbeat that came back was sent (None: never)."""
        return None if not self._ready else self._clock() - self._proven_at

    def proof_age(self) -> float:
        """Seconds since the newest heartbeat that came back was sent, also while not
        listening (it grows then); infinite before the first came back (the metrics)."""
        return self._clock() - self._proven_at

    def client_stamp(self, client_id: str) -> ClientStamp | None:
        """None when the state is not current; else a value that changes whenever a change
        of ``client_id`` (or a truncation of the clients, or a reload of the state) has been
        applied since. A reader takes it *before* reading the client: while it is unchanged
        and the state current, no change of the client committed more than ``max_staleness``
        seconds ago can be missing from what it read (the races: auth's
        ``use_cases/clients.py``)."""
        if not self.current():
            return None
        return (self._loads, *self.state.client_count(client_id))

    def count(self, check: str, from_memory: bool) -> None:
        """An answer given for ``check`` from memory or left to the database."""
        source = "memory" if from_memory else "database"
        self.answers[check, source] += 1
        self.on_answer(check, source)

    def row(self, practice: str, employee: str, sid: str, sso_sid: str) -> dict[str, Any] | None:
        """The state row (:meth:`State.row`) when current and nothing of it is being
        written here; None: ask the database."""
        found = None
        if self.current() and not self._holding(sid, sso_sid, (practice, employee)):
            found = self.state.row(practice, employee, sid, sso_sid, datetime.now(UTC))
        if found is None:
            self.fell_back += 1
        else:
            self.answered += 1
        self.count("session", found is not None)
        return found

    def hold(
        self, sid: str | None, employee: EmployeeKey | None, practice: str | None = None
    ) -> None:
        until = self._clock() + WRITING_SECONDS
        for key in (("sid", sid), ("employee", employee), ("practice", practice)):
            if key[1] is not None:
                self._held[key] = until

    def _holding(self, sid: str, sso_sid: str, employee: EmployeeKey) -> bool:
        if not self._held:
            return False
        now = self._clock()
        keys = (("sid", sid), ("sid", sso_sid), ("employee", employee), ("practice", employee[0]))
        for key in keys:
            until = self._held.get(key)
            if until is not None:
                if until > now:
                    return True
                del self._held[key]
        return False

    def _forget_holds(self) -> None:
        """Holds past their time (writes that rolled back or changed nothing: no message)."""
        now = self._clock()
        for key in [k for k, until in self._held.items() if until <= now]:
            del self._held[key]

    # -- listening ------------------------------------------------------------------------

    def _heard(self, conn: object, pid: int, channel: str, payload: str) -> None:
        message = json.loads(payload)
        beat = message.get("heartbeat")
        if beat is not None:
            token, _, seq = str(beat).rpartition(":")
            if token == self._token:
                sent = self._sent.pop(int(seq), None)
                if sent is not None:
                    self._proven_at = max(self._proven_at, sent)
            return
        if self._buffer is not None:
            self._buffer.append(message)
            return
        self._apply(message)

    def _apply(self, message: Mapping[str, Any]) -> None:
        touched = self.state.apply(message)
        if touched is not None:
            self._held.pop(touched, None)

    async def _load(self, conn: asyncpg.Connection) -> None:
        """Everything, after LISTEN: what arrives meanwhile is applied after, in order."""
        self.state = State(self.columns)
        self._loads += 1
        self._buffer = []
        now = datetime.now(UTC)
        for r in await conn.fetch(
            "SELECT sid, session_expires_at FROM revocations WHERE session_expires_at >= $1",
            now - KEEP_AFTER_END,
        ):
            self.state.revoke(r["sid"], r["session_expires_at"])
        for r in await conn.fetch("SELECT practice, employee, before FROM session_cutoffs"):
            self.state.cut(r["practice"], r["employee"], r["before"])
        for r in await conn.fetch("SELECT id, two_factor_required FROM practices"):
            self.state.practices[r["id"]] = bool(r["two_factor_required"])
        extra = "".join(f", {c}" for c in self.columns)
        for r in await conn.fetch(
            f"SELECT practice, id, in_service, rights_group{extra} FROM employees"  # noqa: S608 - our column names
        ):
            self.state.employee(dict(r))
        buffered, self._buffer = self._buffer, None
        for message in buffered:
            self._apply(message)

    async def _beat(self, conn: asyncpg.Connection) -> None:
        seq = next(self._seq)
        self._sent[seq] = self._clock()
        if len(self._sent) > 100:  # beats that never came back (a dead connection)
            self._sent.pop(min(self._sent))
        payload = json.dumps({"heartbeat": f"{self._token}:{seq}"})
        # asyncio.timeout, not wait_for: a cancelled task stops at once (no inner task).
        async with asyncio.timeout(self.max_staleness):
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def _listen_once(self) -> None:
        conn = await self._connect()
        self._conn = conn
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _: lost.set())
            await conn.add_listener(CHANNEL, self._heard)
            await self._load(conn)
            self._ready = True
            log.info("liveness state loaded: %d entries", self.state.size())
            while not lost.is_set() and not conn.is_closed():
                await self._beat(conn)
                self.state.forget_ended(datetime.now(UTC))
                self._forget_holds()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.max_staleness / 4):
                        await lost.wait()
            raise ConnectionError("the liveness connection ended")
        finally:
            self._ready = False
            self._buffer = None
            self._sent.clear()
            self._conn = None
            if not conn.is_closed():
                conn.terminate()

    async def run(self) -> None:
        """Listen and keep the state current until cancelled; a lost connection is made again
        (after a backoff) and the state reloaded. Never fails: meanwhile, the database
        answers (so the task never counts as down, nor the service as not ready)."""
        rule = Backoff(0.2, 5.0)
        failures = 0
        while True:
            started = self._clock()
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: meanwhile the database answers
                failures = rule.failures_after(failures, self._clock() - started)
                log.warning(
                    "liveness state not current, the database answers: %s",
                    exc.__class__.__name__,
                    extra={"reason": str(exc)},
                )
            await asyncio.sleep(rule.delay(failures))

    def backend_pid(self) -> int | None:
        """The listening connection's server process (tests end it to see the fallback)."""
        return None if self._conn is None else self._conn.get_server_pid()
