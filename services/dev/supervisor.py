"""The local deployment's service processes, supervised as an orchestrator would: a thread
notices a process that exited without being asked to, says so, and restarts it after a
back-off; a process can also be killed, held down and released on request."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from services.dev import ports
from services.dev.infra import with_timeout_terminate
from services.dev.run_folder import RunFolder
from services.dev.settings import DevSettings
from shared.settings import OPS_PORT_OFFSET

Echo = Callable[[str], None]


def restart_delay(quick_exits: int, base: float, ceiling: float) -> float:
    """The wait before restarting a service that exited: ``base``, doubled for every exit in a
    row that came within ``ceiling`` of the previous restart, at most ``ceiling``."""
    return float(min(ceiling, base * 2 ** min(quick_exits, 32)))


def ready(ops_port: int, timeout: float = 1.0) -> bool:
    """Whether the service on ``ops_port`` answers 200 on ``/readyz``."""
    conn = http.client.HTTPConnection("127.0.0.1", ops_port, timeout=timeout)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _exit_reason(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit code {code}"


def _log_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


@dataclass
class ServiceProcess:
    """One service of one zone and what the supervisor keeps of it."""

    service: str
    zone: str
    port: int
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    #: Kept down on purpose (``hold``, a zone down): the supervisor leaves it alone.
    held: bool = False
    restarts: int = 0
    started_at: float = 0.0
    #: Started by the supervisor after an exit (not on request).
    restarted: bool = False
    #: Exits in a row that came soon after a supervisor's restart (a crash loop).
    quick_exits: int = 0
    restart_at: float | None = None
    #: Restarted by the supervisor and not yet said ready.
    awaiting_ready: bool = False
    #: Where the log file ended when the process started: what it said since is its own.
    log_offset: int = 0

    @property
    def name(self) -> str:
        return f"{self.service} zone {self.zone}"

    @property
    def ops_port(self) -> int:
        return self.port + OPS_PORT_OFFSET

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Runs every ``ServiceProcess`` as ``python -m services.cli serve NAME --zone Z --port P``
    with the environment ``environment`` gives it, and keeps them running."""

    def __init__(
        self,
        processes: Iterable[ServiceProcess],
        environment: Callable[[ServiceProcess], dict[str, str]],
        settings: DevSettings,
        echo: Echo,
        run: RunFolder | None = None,
    ) -> None:
        """``run``: where each process's pid is written (``auth-a.pid``), if anywhere."""
        self._processes = {(p.service, p.zone): p for p in processes}
        self._environment = environment
        self.settings = settings
        self.echo = echo
        self.run = run
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, service: str, zone: str) -> ServiceProcess:
        try:
            return self._processes[(service, zone)]
        except KeyError:
            raise KeyError(f"no {service} in zone {zone} in this deployment") from None

    def all(self) -> list[ServiceProcess]:
        return list(self._processes.values())

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start every process and the supervision; return once all are ready."""
        with self._lock:
            for p in self._processes.values():
                self._spawn(p)
        self._thread = threading.Thread(target=self._supervise, daemon=True, name="supervisor")
        self._thread.start()
        self.wait_ready(self._processes.values())

    def stop(self) -> None:
        """Stop supervising, then every process (SIGINT: a graceful shutdown)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            running = [p.process for p in self._processes.values() if p.process and p.alive()]
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            with_timeout_terminate(process)

    # -- on request --------------------------------------------------------------------------

    def kill(self, service: str, zone: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` as something outside would; an exit is noticed and restarted."""
        with self._lock:
            process = self.get(service, zone).process
            if process is not None and process.poll() is None:
                process.send_signal(sig)

    def hold(self, service: str, zone: str, sig: int = signal.SIGINT) -> None:
        """Stop the process with ``sig`` (SIGINT: gracefully) and keep it down."""
        held = self.get(service, zone)
        with self._lock:
            held.held = True
            held.restart_at = None
            process = held.process
            if process is not None and process.poll() is None:
                process.send_signal(sig)
        if process is not None:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def release(self, processes: Iterable[ServiceProcess], wait: bool = True) -> None:
        """Start ``processes`` that are down (held or not), at once; ``wait``: until ready.
        :class:`PortTaken` when a port of one is taken (that one stays as it was)."""
        chosen = list(processes)
        taken: list[ports.Taken] = []
        with self._lock:
            for p in chosen:
                if not p.alive() and (blocked := self._taken_ports(p)):
                    taken += blocked
                    continue
                p.held = False
                if not p.alive():
                    self._spawn(p)
        if taken:
            raise ports.PortTaken(taken, self.run.path if self.run else None)
        if wait:
            self.wait_ready(chosen)

    # -- waiting -----------------------------------------------------------------------------

    def wait_ready(self, processes: Iterable[ServiceProcess], timeout: float | None = None) -> None:
        """Until every one of ``processes`` answers 200 on ``/readyz``; :class:`PortTaken` at
        once when one of them exited because its port is taken (a restart would fail too)."""
        pending = list(processes)
        deadline = time.monotonic() + (timeout or self.settings.ready_timeout_seconds)
        while pending:
            pending = [p for p in pending if not ready(p.ops_port)]
            if not pending:
                return
            taken = [t for p in pending if (t := self.port_taken(p)) is not None]
            if taken:
                raise ports.PortTaken(taken, self.run.path if self.run else None)
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in pending)
                raise TimeoutError(f"not ready: {names}\n{tail(pending[0].log_file)}")
            time.sleep(0.1)

    def wait_restarted(self, service: str, zone: str, restarts: int) -> None:
        """Until the service has been restarted since it had ``restarts``, and is ready."""
        p = self.get(service, zone)
        deadline = time.monotonic() + self.settings.ready_timeout_seconds
        while p.restarts <= restarts:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{p.name} was not restarted")
            time.sleep(0.05)
        self.wait_ready([p])

    def _taken_ports(self, p: ServiceProcess) -> list[ports.Taken]:
        """``p``'s ports (public, operations) that something else listens on."""
        try:
            ports.check(
                [
                    ports.Wanted(p.port, p.name),
                    ports.Wanted(p.ops_port, f"{p.name}, operations listener"),
                ],
                self.run,
            )
        except ports.PortTaken as taken:
            return taken.taken
        return []

    def port_taken(self, p: ServiceProcess) -> ports.Taken | None:
        """Why ``p`` exited, if it did because it could not bind its port (or its operations
        port): the port, and what holds it."""
        process = p.process
        if process is None or process.poll() is None:
            return None
        port = ports.bind_failure(_log_since(p.log_file, p.log_offset))
        if port is None:
            return None
        port = port or p.port
        what = f"{p.name}, operations listener" if port == p.ops_port else p.name
        holders = ports.listeners([port])
        return ports.Taken(
            ports.Wanted(port, what), ports.describe(holders[port]) if port in holders else None
        )

    # -- supervision -------------------------------------------------------------------------

    def _spawn(self, p: ServiceProcess, restarted: bool = False) -> None:
        """Start ``p``'s process (with the lock held); ``restarted``: by the supervisor (a
        start on request forgets earlier crashes)."""
        p.log_file.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "services.cli", "serve", p.service]
        command += ["--zone", p.zone, "--port", str(p.port)]
        with p.log_file.open("ab") as log:
            p.log_offset = log.tell()
            p.process = subprocess.Popen(  # noqa: S603 - our own command line
                command,
                env=self._environment(p),
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in the terminal reaches `tweestap dev` only, which
                # then stops the services in order (not the supervisor racing their exits).
                start_new_session=True,
            )
        if self.run is not None:
            self.run.write_pid(f"{p.service}-{p.zone}", p.process.pid)
        p.started_at = time.monotonic()
        p.restart_at = None
        p.restarted = restarted
        if not restarted:
            p.quick_exits = 0

    def _supervise(self) -> None:
        while not self._stopping.wait(0.1):
            with self._lock:
                for p in self._processes.values():
                    self._tend(p)
            self._say_ready()

    def _tend(self, p: ServiceProcess) -> None:
        """Notice an exit nobody asked for, schedule the restart with back-off, restart."""
        if p.held or p.process is None:
            return
        code = p.process.poll()
        if code is None:
            return
        now = time.monotonic()
        if p.restart_at is None:
            ceiling = self.settings.restart_backoff_max_seconds
            quick = p.restarted and now - p.started_at < ceiling
            p.quick_exits = p.quick_exits + 1 if quick else 0
            delay = restart_delay(p.quick_exits, self.settings.restart_backoff_seconds, ceiling)
            p.restart_at = now + delay
            exited_on = self.port_taken(p)
            why = f": {exited_on.line()}" if exited_on else ""
            self.echo(f"{p.name} exited ({_exit_reason(code)}){why}; restarting in {delay:.1f} s")
        elif now >= p.restart_at:
            if blocked := self._taken_ports(p):
                p.quick_exits += 1
                delay = restart_delay(
                    p.quick_exits,
                    self.settings.restart_backoff_seconds,
                    ceiling=self.settings.restart_backoff_max_seconds,
                )
                p.restart_at = now + delay
                self.echo(
                    f"{p.name} cannot start: {blocked[0].line()}; trying again in {delay:.1f} s"
                )
                return
            self._spawn(p, restarted=True)
            p.restarts += 1
            p.awaiting_ready = True

    def _say_ready(self) -> None:
        """Say when a restarted service is ready again (outside the lock: a probe may wait)."""
        with self._lock:
            waiting = [p for p in self._processes.values() if p.awaiting_ready and p.alive()]
        for p in waiting:
            if p.process is not None and ready(p.ops_port, timeout=0.3):
                p.awaiting_ready = False
                took = time.monotonic() - p.started_at
                self.echo(f"{p.name} restarted (pid {p.process.pid}), ready after {took:.1f} s")
