"""More than one process of a service behind one port (``tweestap serve SERVICE --workers N``).

The command becomes a small supervisor: it starts N copies of itself as workers, each binding
the same public and operations port with ``SO_REUSEPORT`` so that the kernel spreads the
connections; it starts a worker that died again after a backoff that doubles, passes SIGINT
and SIGTERM on, and exits once every worker has stopped. The workers share the zone's database
and consumer groups (the broker splits the partitions between them); their metrics go to files
in a private folder (prometheus_client's multiprocess mode) that any worker's ``/metrics``
adds up, so that a scrape shows the whole service."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

from prometheus_client import multiprocess

from shared.backoff import Backoff
from shared.metrics import METRICS_DIR_ENV

log = logging.getLogger(__name__)

#: Set in a worker's environment: its index (0 … N-1). Its absence marks the supervisor.
WORKER_INDEX_ENV = "TWEESTAP_WORKER_INDEX"
#: How often the supervisor looks whether a worker has exited or a restart is due.
POLL_SECONDS = 0.1
#: How long workers get to stop gracefully (each shutdown step is bounded at 10 s) before
#: they are killed.
STOP_SECONDS = 40.0
_PR_SET_PDEATHSIG = 1


def is_worker() -> bool:
    """Whether this process is one of a supervisor's workers."""
    return WORKER_INDEX_ENV in os.environ


@dataclass
class Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    #: When (monotonic) to start it again after it died; None while it runs.
    restart_at: float | None = None


def _die_with_parent() -> None:
    """In the worker, before exec: SIGTERM when the supervisor dies, even by SIGKILL (Linux),
    so that no orphaned worker keeps serving the port."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class WorkerSupervisor:
    """Runs ``command`` ``count`` times, each with ``env`` plus its index and the metrics
    folder, until SIGINT or SIGTERM."""

    command: Sequence[str]
    count: int
    env: Mapping[str, str]
    backoff: Backoff
    clock: Callable[[], float] = time.monotonic
    workers: list[Worker] = field(init=False)
    _stop: int | None = field(default=None, init=False)
    _metrics_dir: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.workers = [Worker(i) for i in range(self.count)]

    def run(self) -> int:
        """Supervise until told to stop; 0 once every worker has stopped."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        self._metrics_dir = tempfile.mkdtemp(prefix="tweestap-metrics-")
        try:
            for worker in self.workers:
                self._start(worker)
            while self._stop is None:
                self._look_after()
                time.sleep(POLL_SECONDS)
            self._stop_all(self._stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop = signum

    def _start(self, worker: Worker) -> None:
        env = {
            **self.env,
            WORKER_INDEX_ENV: str(worker.index),
            METRICS_DIR_ENV: self._metrics_dir,
        }
        # A process group of its own: a terminal's Ctrl-C reaches the supervisor only, which
        # passes it on once (a second signal would cut a worker's graceful shutdown short).
        worker.process = subprocess.Popen(  # noqa: S603 - our own command line
            list(self.command),
            env=env,
            process_group=0,
            preexec_fn=_die_with_parent,  # no threads in the supervisor
        )
        worker.started = self.clock()
        worker.restart_at = None
        log.info(
            "worker %d started (pid %d)",
            worker.index,
            worker.process.pid,
            extra={"task": f"worker-{worker.index}"},
        )

    def _look_after(self) -> None:
        """Note the workers that died, start those whose backoff is over."""
        now = self.clock()
        for worker in self.workers:
            process = worker.process
            if process is not None and process.poll() is not None:
                self._died(worker, process, now)
            if worker.restart_at is not None and now >= worker.restart_at:
                self._start(worker)

    def _died(self, worker: Worker, process: subprocess.Popen[bytes], now: float) -> None:
        multiprocess.mark_process_dead(process.pid, self._metrics_dir)  # type: ignore[no-untyped-call]
        worker.process = None
        worker.failures = self.backoff.failures_after(worker.failures, now - worker.started)
        delay = self.backoff.delay(worker.failures)
        worker.restart_at = now + delay
        log.error(
            "worker %d (pid %d) exited with %s; starting it again in %.1fs",
            worker.index,
            process.pid,
            _exit_reason(process.returncode),
            delay,
            extra={
                "task": f"worker-{worker.index}",
                "attempt": worker.failures,
                "reason": _exit_reason(process.returncode),
                "retry_in": delay,
            },
        )

    def _stop_all(self, signum: int) -> None:
        """Pass the signal on, wait for the workers (bounded), kill what is left."""
        running = [w.process for w in self.workers if w.process is not None]
        log.info("stopping %d workers (%s)", len(running), signal.Signals(signum).name)
        for process in running:
            if process.poll() is None:
                process.send_signal(signum)
        deadline = self.clock() + STOP_SECONDS
        for process in running:
            try:
                process.wait(max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time; killing it", process.pid)
                process.kill()
                process.wait()


def _exit_reason(code: int) -> str:
    if code < 0:
        return signal.Signals(-code).name
    return f"status {code}"
