"""Who waits for a hashing thread, and who is turned away (503 ``hasher-busy``). Pure: no I/O,
no clock (``now`` is passed in); the hasher (services/auth/adapters/hasher.py) wires it.

Anyone can make a login cost an argon2 verify, so the queue in front of the hashing threads is
bounded. Its rules, so that an overload is shed fairly:

- **Oldest first.** A free thread takes the request that has waited longest.
- **Fair shares when full.** A request arriving at a full queue takes the place of the newest
  request of the client address holding the most places, when that address holds at least two
  places more than the newcomer's address; else the newcomer is refused. One address
  flooding the queue cannot keep another out: the queue tends to equal shares, and within an
  address the older requests keep their places (first in, first out).
- **Not served late.** A request that has waited longer than ``max_wait`` seconds, or than
  its caller's patience (what its time budget leaves, when it says), is dropped instead of
  hashed: its caller has given up on it or is about to, and hashing it would only delay the
  ones behind.
- **No place without patience.** A request whose caller has no time left to wait is refused
  at once when it would have to queue.

An estimate of the wait (queue length times a hash's measured time) was tried to refuse early
the requests that would wait past their patience: on a loaded machine it refused logins that
would have been served in time (a hash's wall time there says little about the threads'
throughput), so the queue admits up to its capacity and drops only what is past its time.

Every request turned away (refused, displaced or dropped) was not evaluated: the password was
never hashed, so the client may send it again (ADR 0008)."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class _Place:
    key: str
    #: When it is no longer worth serving.
    until: float


@dataclass(frozen=True)
class Admitted:
    """The outcome of :meth:`AdmissionQueue.admit`: the newcomer's ticket (None: refused), and
    tickets turned away to make room (``displaced``) or for having waited too long
    (``stale``)."""

    ticket: int | None
    displaced: tuple[int, ...] = ()
    stale: tuple[int, ...] = ()


@dataclass(frozen=True)
class Served:
    """The outcome of :meth:`AdmissionQueue.next`: the ticket to serve now (None: nobody
    waits), and tickets dropped for having waited too long."""

    ticket: int | None
    stale: tuple[int, ...] = ()


@dataclass
class AdmissionQueue:
    """Tickets waiting for a hashing thread, at most ``capacity`` of them, per client address
    (``key``: the address, an IPv6 client's network)."""

    capacity: int
    max_wait: float = float("inf")
    #: Every waiting ticket, oldest first.
    _places: OrderedDict[int, _Place] = field(default_factory=OrderedDict, init=False)
    #: Per address, its waiting tickets, oldest first.
    _by_key: dict[str, deque[int]] = field(default_factory=dict, init=False)
    _issued: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.capacity < 0 or self.max_wait <= 0:
            raise ValueError("capacity must be ≥ 0 and max_wait > 0")

    def __len__(self) -> int:
        return len(self._places)

    def held(self, key: str) -> int:
        """Places ``key`` holds in the queue."""
        return len(self._by_key.get(key, ()))

    def admit(self, key: str, now: float, patience: float | None = None) -> Admitted:
        """A request of ``key`` arriving at ``now`` (see the module's rules); ``patience``: the
        seconds its caller can wait, if it said."""
        stale = self._drop_stale(now)
        limit = self.max_wait if patience is None else min(self.max_wait, patience)
        if limit <= 0:
            return Admitted(None, stale=stale)
        full = len(self._places) >= self.capacity
        largest = self._largest() if full else None
        if full and (largest is None or self.held(largest) < self.held(key) + 2):
            return Admitted(None, stale=stale)
        displaced = () if largest is None else (self._remove_newest(largest),)
        self._issued += 1
        ticket = self._issued
        self._places[ticket] = _Place(key, now + limit)
        self._by_key.setdefault(key, deque()).append(ticket)
        return Admitted(ticket, displaced, stale)

    def next(self, now: float) -> Served:
        """The ticket that has waited longest and is still worth serving, taken out."""
        stale = self._drop_stale(now)
        if not self._places:
            return Served(None, stale)
        ticket = next(iter(self._places))
        self.cancel(ticket)
        return Served(ticket, stale)

    def cancel(self, ticket: int) -> bool:
        """Take ``ticket`` out (its caller gave up); False when it was not waiting."""
        place = self._places.pop(ticket, None)
        if place is None:
            return False
        mine = self._by_key[place.key]
        mine.remove(ticket)
        if not mine:
            del self._by_key[place.key]
        return True

    def _largest(self) -> str | None:
        """The address holding the most places (of equals, the one that came first)."""
        return max(self._by_key, key=lambda k: len(self._by_key[k]), default=None)

    def _remove_newest(self, key: str) -> int:
        ticket = self._by_key[key][-1]
        self.cancel(ticket)
        return ticket

    def _drop_stale(self, now: float) -> tuple[int, ...]:
        dropped = [ticket for ticket, place in self._places.items() if now > place.until]
        for ticket in dropped:
            self.cancel(ticket)
        return tuple(dropped)
