"""Argon2id password hashing off the event loop (argon2-cffi releases the GIL), with a
bounded queue: anyone can make a login cost an argon2 verify, so beyond ``max_waiting`` hashes
waiting for a thread the hasher refuses (503) instead of queueing without end. Who waits and
who is turned away is services/auth/domain/admission.py: oldest first, fair shares per client
address when full, nothing hashed after waiting ``max_wait_seconds``."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.auth.domain.admission import AdmissionQueue
from shared import actors
from shared.problems import Problem
from shared.ratelimit import limit_key

T = TypeVar("T")
log = logging.getLogger(__name__)
#: Weight of the newest job in the moving average of a job's time (about the last ten jobs).
JOB_AVERAGING = 0.1
#: Of a caller's time budget, what a login needs besides waiting and hashing: its database
#: round trips and the answer's way back.
BUDGET_MARGIN_SECONDS = 0.5
#: The seconds the caller of the request being handled will wait for its answer, when it said
#: (``X-Request-Budget``, set by auth's HTTP layer): its hash does not wait past that.
caller_budget: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "caller_budget", default=None
)


class HasherBusy(Problem):
    """Too many hashes already waiting: try again shortly."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            503,
            "hasher-busy",
            "Too busy",
            "Too many logins at once; try again shortly.",
            retry_after=retry_after,
        )


class Hasher:
    def __init__(
        self,
        memory_kib: int,
        time_cost: int,
        parallelism: int,
        workers: int = 0,
        max_waiting: int = 64,
        busy_retry_seconds: int = 1,
        cpu_spent: Callable[[float], None] | None = None,
        *,
        max_wait_seconds: float = float("inf"),
        niceness: int = 0,
        ipv6_prefix: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``cpu_spent``: told the CPU seconds of each hashing job (its thread's time), so
        the argon2 share of auth's CPU can be told apart from the rest (``tweestap bench``).
        ``max_wait_seconds``: a hash that waited longer for a thread is refused, not run;
        ``niceness``: added to each hashing thread's (the event loop's stays as it is);
        ``ipv6_prefix``: an IPv6 client's share of the queue is its network's."""
        self._ph = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._workers = workers or os.cpu_count() or 2
        self._pool = ThreadPoolExecutor(
            max_workers=self._workers,
            thread_name_prefix="argon2",
            initializer=_lower_priority,
            initargs=(niceness,),
        )
        self._busy_retry_seconds = busy_retry_seconds
        self._cpu_spent = cpu_spent
        self._ipv6_prefix = ipv6_prefix
        self._clock = clock
        self._queue = AdmissionQueue(max_waiting, max_wait_seconds)
        #: Per waiting ticket, what its job awaits: a thread (None) or a refusal.
        self._tickets: dict[int, asyncio.Future[None]] = {}
        #: Hashing jobs holding a thread (running, or granted one and about to run).
        self._running = 0
        #: The seconds a job takes on its thread (moving average), None until one has run.
        self._job_seconds: float | None = None
        # Verified when the user is unknown, so that the answer takes the same time.
        self._dummy = self._ph.hash(os.urandom(16).hex())

    @property
    def waiting(self) -> int:
        """Hashing jobs waiting for a thread."""
        return len(self._queue)

    async def _run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on a hashing thread once it is this request's turn, or refuse
        (:class:`HasherBusy`): the queue is full and this client holds its share, or the job
        was displaced or waited too long (services/auth/domain/admission.py). The queue and
        the counts are touched on the event loop only, so they cannot race."""
        if self._running < self._workers and not len(self._queue):
            self._running += 1
        else:
            await self._wait_turn()
        started = self._clock()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._timed(job))
        finally:
            self._measured(self._clock() - started)
            self._running -= 1
            self._serve_next()

    def _measured(self, seconds: float) -> None:
        """A job's time on its thread (wall time: a saturated machine makes it longer), into
        the moving average a caller's patience is reckoned with."""
        last = self._job_seconds
        self._job_seconds = seconds if last is None else last + JOB_AVERAGING * (seconds - last)

    async def _wait_turn(self) -> None:
        """Wait in the queue until :meth:`_serve_next` grants a thread (counted in
        ``_running`` by the grant), or raise :class:`HasherBusy`."""
        key = limit_key(actors.address() or "unknown", self._ipv6_prefix)
        budget = caller_budget.get()
        patience = None
        if budget is not None:  # what is left for waiting once its own hash and the rest ran
            patience = budget - (self._job_seconds or 0.0) - BUDGET_MARGIN_SECONDS
        admitted = self._queue.admit(key, self._clock(), patience)
        self._refuse(admitted.displaced + admitted.stale)
        if admitted.ticket is None:
            raise HasherBusy(self._busy_retry_seconds)
        turn = self._tickets[admitted.ticket] = asyncio.get_running_loop().create_future()
        try:
            await turn
        except asyncio.CancelledError:
            waited = self._queue.cancel(admitted.ticket)
            if not waited and turn.done() and not turn.cancelled() and turn.exception() is None:
                self._running -= 1  # granted a thread it will not use: the next one's
                self._serve_next()
            raise
        finally:
            self._tickets.pop(admitted.ticket, None)

    def _serve_next(self) -> None:
        """Grant free threads to the oldest waiting jobs; refuse those that waited too long."""
        while self._running < self._workers:
            served = self._queue.next(self._clock())
            self._refuse(served.stale)
            if served.ticket is None:
                return
            turn = self._tickets[served.ticket]
            if not turn.done():  # else its caller was cancelled meanwhile: the next one
                self._running += 1
                turn.set_result(None)

    def _refuse(self, tickets: tuple[int, ...]) -> None:
        for ticket in tickets:
            turn = self._tickets[ticket]
            if not turn.done():
                turn.set_exception(HasherBusy(self._busy_retry_seconds))

    def _timed(self, job: Callable[[], T]) -> Callable[[], T]:
        spent = self._cpu_spent
        if spent is None:
            return job

        def timed() -> T:
            started = time.thread_time()
            try:
                return job()
            finally:
                spent(time.thread_time() - started)

        return timed

    def _verify(self, hashed: str | None, password: str) -> bool:
        try:
            return self._ph.verify(hashed or self._dummy, password) and hashed is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _first_match(self, hashes: list[str], password: str) -> bool:
        return any(self._verify(h, password) for h in hashes)  # stops at the first match

    async def verify(self, hashed: str | None, password: str) -> bool:
        """True if ``password`` matches; with ``hashed=None`` spends the same time, False."""
        return await self._run(lambda: self._verify(hashed, password))

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self._ph.hash(password))

    async def matches_any(self, hashes: list[str], password: str) -> bool:
        """True if ``password`` is one of the (historic) ``hashes``: one queued job that checks
        them in turn and stops at the first match (one request takes one place in the queue)."""
        if not hashes:
            return False
        return await self._run(lambda: self._first_match(hashes, password))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority(niceness: int) -> None:
    """Lower the calling thread's scheduling priority by ``niceness`` (Linux: a thread's
    niceness is its own, set through its thread id; lowering needs no privilege). Where the
    host refuses it (a sandbox's syscall filter), the thread hashes at the loop's priority:
    a failing initializer would break the pool, and every login with it."""
    if not niceness:
        return
    me = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, me, os.getpriority(os.PRIO_PROCESS, me) + niceness)
    except OSError as exc:
        log.warning("hashing thread at the event loop's priority: %r", exc)
