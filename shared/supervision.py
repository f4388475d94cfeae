"""Background tasks under supervision: consumers, the outbox relay, dispatchers, maintenance.

A task that raises is logged with the reason, counted (``tweestap_task_restarts_total``) and
started again after a backoff that doubles on every failure. While it is down, and while its
probe names a problem (a consumer retrying the database, or lagging), readiness says no."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from shared import logs
from shared.backoff import Backoff
from shared.metrics import Metrics

log = logging.getLogger(__name__)

#: Starts a fresh run of a task (a coroutine cannot be awaited twice).
TaskFactory = Callable[[], Coroutine[Any, Any, None]]
#: Why a running task should not count as ready, or None.
Probe = Callable[[], str | None]


@dataclass
class Supervisor:
    metrics: Metrics
    #: The first wait before a restart; doubles per failure up to ``max_backoff``.
    backoff: float
    max_backoff: float
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _down: dict[str, str] = field(default_factory=dict)
    _probes: dict[str, Probe] = field(default_factory=dict)

    def spawn(self, run: TaskFactory, name: str, probe: Probe | None = None) -> asyncio.Task[None]:
        """Run ``run()`` as task ``name`` until cancelled, restarting it whenever it ends."""
        if name in self._probes or any(t.get_name() == name for t in self.tasks):
            raise ValueError(f"a task named {name!r} is already supervised")
        if probe is not None:
            self._probes[name] = probe
        # Its log lines name the service and zone, also where a process runs several (tests).
        context = logs.scoped(self.metrics.service, self.metrics.zone)
        task = asyncio.create_task(self._supervise(run, name), name=name, context=context)
        self.tasks.append(task)
        return task

    def failing(self) -> dict[str, str]:
        """Task name → why it is not ready (down and waiting to restart, or its probe's word)."""
        failing = dict(self._down)
        for name, probe in self._probes.items():
            if name not in failing and (reason := probe()) is not None:
                failing[name] = reason
        return failing

    async def _supervise(self, run: TaskFactory, name: str) -> None:
        rule = Backoff(self.backoff, self.max_backoff)
        attempt = 0
        while True:
            started = time.monotonic()
            failure: Exception | None = None
            try:
                await run()
                reason = "returned, which it never should"
            except Exception as exc:  # CancelledError is a BaseException: it ends supervision
                failure = exc
                reason = f"{type(exc).__name__}: {exc}"[:300]
            # One that ran well for a while starts a fresh count.
            attempt = rule.failures_after(attempt, time.monotonic() - started)
            backoff = rule.delay(attempt)
            log.error(
                "task %s %s; restarting in %.1fs",
                name,
                reason,
                backoff,
                exc_info=failure,
                extra={
                    "task": name,
                    "attempt": attempt,
                    "error": type(failure).__name__ if failure else "returned",
                    "retry_in": backoff,
                },
            )
            self._down[name] = reason
            self.metrics.task_restarts.labels(**self.metrics.base(), task=name).inc()
            try:
                await asyncio.sleep(backoff)
            finally:
                self._down.pop(name, None)
