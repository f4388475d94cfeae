"""The nemesis: applies a fault schedule to a running deployment, each fault recorded in the
history with its start and end, and ``heal`` undoes whatever is still in force.

The deployment's fault methods block (a zone coming up waits until it is ready), so each runs
in a thread; faults of one group start together, and faults overlap as the schedule says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence

from services.dev.chaos import schedule as kinds
from services.dev.chaos.history import History
from services.dev.chaos.partition import FOLLOW_SECONDS, Partitions
from services.dev.chaos.schedule import Fault
from services.dev.deployment import Deployment

log = logging.getLogger("tweestap.chaos")
Saturate = Callable[[float], Awaitable[None]]


class Nemesis:
    """``saturate(seconds)``: the load's burst of logins (a fault of kind saturation);
    ``partitions``: None where zones cannot be cut off (the schedule then has none)."""

    def __init__(
        self,
        deployment: Deployment,
        history: History,
        saturate: Saturate,
        partitions: Partitions | None = None,
    ) -> None:
        self.deployment, self.history = deployment, history
        self.saturate, self.partitions = saturate, partitions
        self._tasks: set[asyncio.Task[None]] = set()
        #: Process groups stopped by a fault still in force (SIGCONT at the end or the heal).
        self._stopped: dict[str, int] = {}

    async def run(self, faults: Sequence[Fault]) -> None:
        """Each fault at its time (seconds since the history started); returns when every
        fault has ended."""
        for fault in sorted(faults, key=lambda f: f.at):
            await asyncio.sleep(max(0.0, fault.at - self.history.now()))
            task = asyncio.create_task(self._apply(fault))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _apply(self, fault: Fault) -> None:
        entry = self.history.record(
            {
                "type": "fault",
                "kind": fault.kind,
                "target": fault.target,
                "planned": fault.at,
                "duration": fault.duration,
                "group": fault.group,
                "start": self.history.now(),
                "end": None,
                "error": None,
            }
        )
        try:
            await self._begin(fault)
            if fault.kind == kinds.SATURATION:
                await self.saturate(fault.duration)
            elif fault.kind == kinds.PARTITION:
                await self._follow(fault)
            else:
                await asyncio.sleep(fault.duration)
            await self._end(fault)
        except Exception as error:  # recorded; the heal undoes what was done
            log.warning("fault %s %s: %r", fault.kind, fault.target, error)
            entry["error"] = repr(error)[:300]
        finally:
            entry["end"] = self.history.now()
            self.history.record({**entry, "type": "fault-end"})

    async def _begin(self, fault: Fault) -> None:
        d, target = self.deployment, fault.target
        if fault.kind in (kinds.KILL, kinds.STOP):
            service, zone = target.rsplit("-", 1)
            if fault.kind == kinds.KILL:
                await asyncio.to_thread(d.kill, service, zone, signal.SIGKILL)
            else:
                pid = d.pid(service, zone)
                os.killpg(pid, signal.SIGSTOP)  # its own session: the workers too
                self._stopped[target] = pid
        elif fault.kind == kinds.BROKER_PAUSE:
            await asyncio.to_thread(d.broker_down)
        elif fault.kind == kinds.POSTGRES_DOWN:
            await asyncio.to_thread(d.postgres_down, target)
        elif fault.kind == kinds.ZONE_DOWN:
            await asyncio.to_thread(d.zone_down, target)
        elif fault.kind == kinds.PARTITION:
            if self.partitions is None:
                raise RuntimeError("partitions are not supported here")
            await asyncio.to_thread(self.partitions.cut, target, self._pids(target))

    async def _follow(self, fault: Fault) -> None:
        """While the zone is cut off, restarted processes join the cut."""
        assert self.partitions is not None
        until = self.history.now() + fault.duration
        while self.history.now() < until:
            await asyncio.sleep(FOLLOW_SECONDS)
            self.partitions.follow(fault.target, self._pids(fault.target))

    def _pids(self, zone: str) -> list[int]:
        pids = []
        for service in self.deployment.services:
            with contextlib.suppress(LookupError):
                if self.deployment.is_up(service, zone):
                    pids.append(self.deployment.pid(service, zone))
        return pids

    async def _end(self, fault: Fault) -> None:
        d, target = self.deployment, fault.target
        if fault.kind == kinds.STOP:
            self._continue(target)
        elif fault.kind == kinds.BROKER_PAUSE:
            await asyncio.to_thread(d.broker_up)
        elif fault.kind == kinds.POSTGRES_DOWN:
            await asyncio.to_thread(d.postgres_up, target)
        elif fault.kind == kinds.ZONE_DOWN:
            await asyncio.to_thread(d.zone_up, target)
        elif fault.kind == kinds.PARTITION and self.partitions is not None:
            await asyncio.to_thread(self.partitions.mend, target)

    def _continue(self, target: str) -> None:
        pid = self._stopped.pop(target, None)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGCONT)

    async def heal(self) -> list[str]:
        """Undo every fault still in force: running faults cancelled, stopped processes
        continued, cuts mended, then the deployment restored (broker resumed, PostgreSQL
        started, every service started and ready)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for target in list(self._stopped):
            self._continue(target)
        if self.partitions is not None:
            await asyncio.to_thread(self.partitions.mend_all)
        said = await asyncio.to_thread(self.deployment.restore)
        self.history.record({"type": "healed", "at": self.history.now()})
        return said
