"""Delivering: the worker that takes due messages from the queue and delivers each once.

Exactly-once delivery: :func:`~services.notifier.use_cases.receiving.receive` queues a request
and records its event id in one transaction. The worker records each attempt (status
``sending``, a lease) and commits before it talks to SMTP, the gateway or the client, and
records the
outcome after. The one remaining at-least-once corner: the process dies after the server
accepted the message and before the outcome is committed (a few milliseconds per message);
when the lease runs out the message is sent again. Anything else — a crash before sending, a
broker redelivery, a duplicate request id — sends nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg

from services.notifier.adapters import repository as repo
from services.notifier.domain.delivery import DeliveryError, permanent
from services.notifier.domain.message import Message
from services.notifier.metrics import NotifierMetrics
from services.notifier.use_cases.outcomes import Outcomes
from services.notifier.use_cases.sending import Sending
from shared.events import utcnow
from shared.periodic import woken

log = logging.getLogger(__name__)


@dataclass
class Delivering:
    pool: asyncpg.Pool
    sending: Sending
    outcomes: Outcomes
    metrics: NotifierMetrics
    #: Messages delivered at once by this process.
    concurrency: int
    #: Of those, at most this many back-channel logouts (a slow application must not hold up
    #: e-mail and SMS codes).
    backchannel_concurrency: int
    #: How long a claimed message is this process's; past it, another may claim it again.
    lease: timedelta
    #: Without a wake-up, how often to look for due messages (retries, expired leases).
    sweep_seconds: float
    #: At shutdown, how long deliveries under way may take to finish.
    grace_seconds: float
    wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _inflight: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _backchannel: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    def wake_up(self) -> None:
        """A request was queued (called after its commit, when the row is visible)."""
        self.wake.set()

    async def run(self) -> None:
        """Deliver due messages until cancelled. Deliveries flow: a message is claimed as soon
        as a slot is free and a wake-up (new request, finished delivery) or sweep finds it."""
        try:
            while True:
                self.wake.clear()
                free = self.concurrency - len(self._inflight)
                claimed = await self._claim(free) if free > 0 else 0
                if free > 0 and claimed == free:
                    continue  # there may be more due right now
                if not await woken(self.wake, self.sweep_seconds):
                    await self._report_queue()
        finally:
            await self._finish_inflight()

    async def _claim(self, limit: int) -> int:
        try:
            return await self.dispatch(limit)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("dispatcher failed, retrying: %r", exc)
            return 0

    async def dispatch(self, limit: int) -> int:
        """Claim up to ``limit`` due messages and start delivering each: e-mail and SMS first,
        then back-channel logouts in the slots left, up to their own limit."""
        now = utcnow()
        messages = await repo.claim_due(self.pool, now, now + self.lease, limit)
        room = min(limit - len(messages), self.backchannel_concurrency - len(self._backchannel))
        if room > 0:
            messages += await repo.claim_due(
                self.pool, now, now + self.lease, room, backchannel=True
            )
        for message in messages:
            task = asyncio.create_task(self.deliver(message))
            self._inflight.add(task)
            if message.channel == "backchannel":
                self._backchannel.add(task)
            task.add_done_callback(self._delivered)
        return len(messages)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._backchannel.discard(task)
        self.wake.set()  # a slot is free

    async def deliver(self, message: Message) -> None:
        """Attempt one claimed message and record the outcome. If the database is away the
        message keeps its lease and is claimed again when the lease runs out."""
        try:
            error = await self._attempt(message)
            if error is None:
                await self.outcomes.delivered(message)
            else:
                await self.outcomes.failed(message, error)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("recording delivery of %s failed: %r", message.request_id, exc)

    async def _attempt(self, message: Message) -> DeliveryError | None:
        try:
            await self.sending.attempt(message)
        except DeliveryError as exc:
            return exc
        except Exception as exc:
            # A message we cannot even attempt (bad parameter types, a malformed sender
            # address) must not stop the worker for every other message.
            log.exception("delivery of %s failed unexpectedly", message.request_id)
            return permanent("internal-error", type(exc).__name__)
        return None

    async def _finish_inflight(self) -> None:
        """On shutdown, let deliveries under way finish (bounded), so that few are left to
        the lease and sent twice."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.grace_seconds)
        for task in self._inflight:
            task.cancel()

    async def _report_queue(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            waiting = await repo.count_waiting(self.pool)
            self.metrics.queued.labels(**self.metrics.base()).set(waiting)
