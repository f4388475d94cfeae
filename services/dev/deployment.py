"""Both zones of every service as supervised OS processes on one machine: ``tweestap dev``, the
fault tests and ``tweestap bench failover`` all run this.

Like an orchestrator, a supervisor thread restarts a service that exited without being asked
to (with a back-off), and a zone, a service, a zone's PostgreSQL or the broker can be taken down
and brought back on request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import asyncpg
from aiosmtpd.controller import Controller
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.auth.bootstrapping import bootstrap_practice
from services.auth.settings import AuthSettings
from services.dev.infra import Broker, Postgres, free_port, with_timeout_terminate
from services.dev.sinks import SmsSink, start_smtp_sink
from services.registry import SERVICES
from shared import trust
from shared.db import ensure_database
from shared.sealing import generate_key
from shared.settings import OPS_PORT_OFFSET

T = TypeVar("T")
Echo = Callable[[str], None]
PortMode = Literal["fixed", "free"]
ZONES = ("a", "b")
FIXED_BROKER_PORT = 9092
FIXED_SMTP_PORT = 2525
FIXED_SMS_PORT = 2526


class DevSettings(BaseSettings):
    """How the local deployment supervises its processes (environment ``TWEESTAP_DEV_*``)."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_DEV_", extra="ignore")

    #: ``tweestap dev`` listens here (127.0.0.1 only) for ``tweestap zone down|up``.
    control_port: int = Field(default=2527, ge=1, le=65535)
    #: A service that exited unasked is restarted after this wait, doubled for every further
    #: exit within ``restart_backoff_max_seconds`` of its restart (a crash loop), up to that.
    restart_backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    restart_backoff_max_seconds: float = Field(default=30.0, gt=0, le=600)
    #: How long a started service may take to answer 200 on ``/readyz``.
    ready_timeout_seconds: float = Field(default=90.0, gt=0, le=900)


def restart_delay(quick_exits: int, base: float, ceiling: float) -> float:
    """The wait before restarting a service that exited: ``base``, doubled for every exit in a
    row that came within ``ceiling`` of the previous restart, at most ``ceiling``."""
    return float(min(ceiling, base * 2 ** min(quick_exits, 32)))


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from synchronous code, even when the calling thread
    has an event loop of its own (a test's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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
    if code < 0:
        return f"signal {-code}"
    return f"exit code {code}"


def _secret_file(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


class _Ports:
    """Distinct free ports; a service's port P also needs P + OPS_PORT_OFFSET free."""

    def __init__(self) -> None:
        self.taken: set[int] = set()

    def one(self, with_ops: bool = False) -> int:
        while True:
            port = free_port()
            if port in self.taken or (with_ops and port + OPS_PORT_OFFSET in self.taken):
                continue
            if with_ops and not _bindable(port + OPS_PORT_OFFSET):
                continue
            self.taken.update({port, port + OPS_PORT_OFFSET} if with_ops else {port})
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class _Child:
    """One service of one zone and the state the supervisor keeps of it."""

    service: str
    zone: str
    port: int
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    #: Kept down on purpose (``hold``, ``zone_down``): the supervisor leaves it alone.
    held: bool = False
    restarts: int = 0
    started_at: float = 0.0
    #: Started by the supervisor after an exit (not on request).
    restarted: bool = False
    #: Exits in a row that came soon after a supervisor's restart (a crash loop).
    quick_exits: int = 0
    restart_at: float | None = None
    #: Restarted by the supervisor and not yet reported ready.
    awaiting_ready: bool = False

    @property
    def name(self) -> str:
        return f"{self.service} zone {self.zone}"

    @property
    def ops_port(self) -> int:
        return self.port + OPS_PORT_OFFSET

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class _Secrets:
    sealing: str
    bsn_key: str
    trust_private: str
    trust_public: str = field(init=False)

    def __post_init__(self) -> None:
        self.trust_public = trust.public_half(self.trust_private)

    @classmethod
    def under(cls, folder: Path) -> _Secrets:
        """The deployment's keys, made once and kept (0600) so a restart reads old data."""
        return cls(
            _secret_file(folder / "sealing-keys", lambda: f"dev1:{generate_key()}"),
            _secret_file(folder / "bsn-key", lambda: secrets.token_urlsafe(32)),
            _secret_file(folder / "trust-private-key", lambda: trust.generate()[0]),
        )


class Deployment:
    """Embedded PostgreSQL per zone, the embedded broker, the SMTP and SMS sinks, and every
    service of every zone as ``python -m services.cli serve NAME --zone Z --port P``.

    ``ports="fixed"``: the documented ports (8101…, broker 9092, SMTP 2525, SMS 2526);
    ``"free"``: free ones (tests, benchmarks). ``env`` is added to every service's environment.
    """

    def __init__(
        self,
        root: Path,
        *,
        ports: PortMode = "fixed",
        zones: Iterable[str] = ZONES,
        services: Iterable[str] = tuple(SERVICES),
        env: Mapping[str, str] | None = None,
        echo: Echo = print,
        settings: DevSettings | None = None,
    ) -> None:
        self.root = root.resolve()
        self.zones = tuple(zones)
        self.services = tuple(services)
        self.env = dict(env or {})
        self.echo = echo
        self.settings = settings or DevSettings()
        self._free = ports == "free"
        pick = _Ports()
        self.broker_port = pick.one() if self._free else FIXED_BROKER_PORT
        self.smtp_port = pick.one() if self._free else FIXED_SMTP_PORT
        self.sms_port = pick.one() if self._free else FIXED_SMS_PORT
        self._children = {
            (service, zone): _Child(
                service,
                zone,
                pick.one(with_ops=True) if self._free else SERVICES[service].default_port(zone),
                self.root / "logs" / f"{service}-{zone}.log",
            )
            for zone in self.zones
            for service in self.services
        }
        self._postgres: dict[str, Postgres] = {}
        self._broker: Broker | None = None
        self._smtp: Controller | None = None
        self._sms: SmsSink | None = None
        self._secrets: _Secrets | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Deployment:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything and return once every service answers 200 on ``/readyz``."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._secrets = _Secrets.under(self.root / "dev")
        for zone in self.zones:
            self._postgres[zone] = Postgres(self.root / f"pg-{zone}")
        self._broker = Broker(self.broker_port, self.root / "logs" / "broker.log")
        self._broker.start()
        self._smtp = start_smtp_sink(self.mail_folder, "127.0.0.1", self.smtp_port)
        self._sms = SmsSink(self.root / "sms", "127.0.0.1", self.sms_port)
        self._sms.start()
        for child in self._children.values():
            run_sync(ensure_database(self.dsn(child.service, child.zone)))
        with self._lock:
            for child in self._children.values():
                self._spawn(child)
        self._supervisor = threading.Thread(target=self._supervise, daemon=True, name="supervisor")
        self._supervisor.start()
        self.wait_ready(self._children.values())

    def stop(self) -> None:
        """Stop the services (SIGINT: a graceful shutdown), then the sinks, broker, databases."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        with self._lock:
            running = [c.process for c in self._children.values() if c.alive()]
        for process in running:
            assert process is not None
            process.send_signal(signal.SIGINT)
        for process in running:
            assert process is not None
            with_timeout_terminate(process)
        if self._smtp is not None:
            self._smtp.stop()
        if self._sms is not None:
            self._sms.stop()
        if self._broker is not None:
            if self._broker.process is not None:
                self._broker.resume()  # a paused broker cannot act on SIGTERM
            self._broker.stop()
        for pg in self._postgres.values():
            with contextlib.suppress(Exception):
                if pg.running:
                    pg.stop()

    # -- where things are --------------------------------------------------------------------

    def url(self, service: str, zone: str) -> str:
        return f"http://127.0.0.1:{self._child(service, zone).port}"

    def ops_url(self, service: str, zone: str) -> str:
        """The operations listener: ``/readyz``, ``/healthz``, ``/metrics``."""
        return f"http://127.0.0.1:{self._child(service, zone).ops_port}"

    def dsn(self, service: str, zone: str) -> str:
        return self._postgres[zone].socket_dsn(service)

    @property
    def broker_bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def mail_folder(self) -> Path:
        return self.root / "mail"

    @property
    def sms_folder(self) -> Path:
        return self.root / "sms"

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.sms_port}/sms"

    def log_file(self, service: str, zone: str) -> Path:
        return self._child(service, zone).log_file

    def pid(self, service: str, zone: str) -> int:
        process = self._child(service, zone).process
        if process is None:
            raise LookupError(f"{service} zone {zone} has not been started")
        return process.pid

    def restarts(self, service: str, zone: str) -> int:
        """How often the supervisor restarted this service (not counting ``release``)."""
        return self._child(service, zone).restarts

    def is_up(self, service: str, zone: str) -> bool:
        return self._child(service, zone).alive()

    # -- faults ------------------------------------------------------------------------------

    def kill(self, service: str, zone: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the service as something outside would: the supervisor notices the
        exit and restarts it (that is the point)."""
        with self._lock:
            process = self._child(service, zone).process
            if process is not None and process.poll() is None:
                process.send_signal(sig)

    def hold(self, service: str, zone: str, sig: int = signal.SIGINT) -> None:
        """Stop the service with ``sig`` (SIGINT: gracefully) and keep it down."""
        child = self._child(service, zone)
        with self._lock:
            child.held = True
            child.restart_at = None
            process = child.process
            if process is not None and process.poll() is None:
                process.send_signal(sig)
        if process is not None:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def release(self, service: str, zone: str, wait: bool = True) -> None:
        """Start a held service again (at once, no back-off); ``wait``: until it is ready."""
        child = self._child(service, zone)
        with self._lock:
            child.held = False
            if not child.alive():
                self._spawn(child)
        if wait:
            self.wait_ready([child])

    def zone_down(self, zone: str) -> list[str]:
        """Every service of ``zone`` SIGKILLed and kept down, then its PostgreSQL stopped."""
        said = []
        for service in self.services:
            self.hold(service, zone, signal.SIGKILL)
        said.append(self._say(f"zone {zone}: {', '.join(self.services)} killed (SIGKILL), held"))
        said.append(self.postgres_down(zone))
        return said

    def zone_up(self, zone: str) -> list[str]:
        """PostgreSQL of ``zone`` back, then its services started and ready."""
        said = [self.postgres_up(zone)]
        started = time.monotonic()
        with self._lock:
            for service in self.services:
                child = self._child(service, zone)
                child.held = False
                if not child.alive():
                    self._spawn(child)
        self.wait_ready(self._child(service, zone) for service in self.services)
        said.append(
            self._say(
                f"zone {zone}: {', '.join(self.services)} ready "
                f"({time.monotonic() - started:.1f} s)"
            )
        )
        return said

    def postgres_down(self, zone: str) -> str:
        """Stop the zone's PostgreSQL (a real shutdown; its data folder stays)."""
        self._postgres[zone].halt()
        return self._say(f"zone {zone}: PostgreSQL stopped")

    def postgres_up(self, zone: str) -> str:
        self._postgres[zone].start()
        return self._say(f"zone {zone}: PostgreSQL started")

    def broker_down(self) -> str:
        """Make the broker unreachable, keeping its topics.

        The embedded broker (Tansu) keeps topics in memory only, and this build has no durable
        storage: a stopped broker would come back empty, which is a lost cluster, not an
        outage. SIGSTOP freezes it instead: connections hang and time out like a broker behind
        a network fault, and SIGCONT (``broker_up``) brings it back with every event.
        """
        assert self._broker is not None
        self._broker.pause()
        return self._say("broker paused (SIGSTOP): unreachable, topics kept")

    def broker_up(self) -> str:
        assert self._broker is not None
        self._broker.resume()
        return self._say("broker resumed (SIGCONT)")

    def restore(self) -> list[str]:
        """Undo every fault: broker resumed, every PostgreSQL running, every service started;
        returns once all are ready (what a fault test leaves behind for the next)."""
        said = []
        if self._broker is not None and self._broker.paused:
            said.append(self.broker_up())
        for zone, pg in self._postgres.items():
            if not pg.running:
                said.append(self.postgres_up(zone))
        with self._lock:
            for child in self._children.values():
                child.held = False
                if not child.alive():
                    self._spawn(child)
        self.wait_ready(self._children.values())
        return said

    # -- waiting -----------------------------------------------------------------------------

    def wait_ready(self, children: Iterable[_Child], timeout: float | None = None) -> None:
        """Until every one of ``children`` answers 200 on ``/readyz``."""
        pending = list(children)
        deadline = time.monotonic() + (timeout or self.settings.ready_timeout_seconds)
        while pending:
            pending = [c for c in pending if not ready(c.ops_port)]
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(c.name for c in pending)
                raise TimeoutError(f"not ready: {names}\n{tail(pending[0].log_file)}")
            time.sleep(0.1)

    def wait_restarted(self, service: str, zone: str, restarts: int) -> None:
        """Until the supervisor has restarted the service since it had ``restarts``, and the
        new process is ready."""
        child = self._child(service, zone)
        deadline = time.monotonic() + self.settings.ready_timeout_seconds
        while child.restarts <= restarts:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{child.name} was not restarted")
            time.sleep(0.05)
        self.wait_ready([child])

    def wait_service_ready(self, service: str, zone: str, timeout: float | None = None) -> None:
        self.wait_ready([self._child(service, zone)], timeout)

    # -- data --------------------------------------------------------------------------------

    async def bootstrap(
        self,
        practice: str,
        username: str,
        password: str,
        *,
        name: str | None = None,
        email: str | None = None,
        zone: str | None = None,
    ) -> str:
        """A practice and its first administrator (password-only), made in ``zone`` (default:
        the first) and awaited in the auth database of every zone whose auth runs; returns the
        administrator's employee id."""
        assert self._secrets is not None
        first = zone or self.zones[0]
        settings = AuthSettings(
            **self._auth_overrides(),
            zone=first,
            database_url=self.dsn("auth", first),
            sealing_keys=self._secrets.sealing,
        )
        employee = await bootstrap_practice(
            settings,
            practice,
            name or practice,
            username,
            f"{username} ({practice})",
            password,
            email,
        )
        for z in self.zones:
            if self.is_up("auth", z):
                await self.wait_employee(z, practice, employee)
        return employee

    async def wait_employee(self, zone: str, practice: str, employee: str) -> None:
        """Until zone's auth has the practice, the employee and a password for them (polling
        its database, not logging in: failed logins would count toward the lockout)."""
        deadline = time.monotonic() + self.settings.ready_timeout_seconds
        conn = await asyncpg.connect(self.dsn("auth", zone))
        try:
            while not await conn.fetchval(
                "SELECT 1 FROM practices p JOIN employees e ON e.practice = p.id "
                "JOIN credentials c ON c.practice = p.id AND c.employee = e.id "
                "WHERE p.id = $1 AND e.id = $2",
                practice,
                employee,
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{practice}/{employee} not in zone {zone}'s auth")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    # -- supervision -------------------------------------------------------------------------

    def _child(self, service: str, zone: str) -> _Child:
        try:
            return self._children[(service, zone)]
        except KeyError:
            raise KeyError(f"no {service} in zone {zone} in this deployment") from None

    def _auth_overrides(self) -> dict[str, Any]:
        """Auth's settings among ``env`` (e.g. argon2 costs), for work done in this process."""
        prefix = "TWEESTAP_"
        names = {
            key.removeprefix(prefix).lower(): value
            for key, value in self.env.items()
            if key.startswith(prefix)
        }
        return {name: value for name, value in names.items() if name in AuthSettings.model_fields}

    def _say(self, message: str) -> str:
        self.echo(message)
        return message

    def _environment(self, child: _Child) -> dict[str, str]:
        assert self._secrets is not None
        env = {
            **os.environ,
            "TWEESTAP_ZONE": child.zone,
            "TWEESTAP_DATABASE_URL": self.dsn(child.service, child.zone),
            "TWEESTAP_KAFKA_BOOTSTRAP": self.broker_bootstrap,
            "TWEESTAP_SEALING_KEYS": self._secrets.sealing,
            "TWEESTAP_BSN_KEY": self._secrets.bsn_key,
            "TWEESTAP_TRUST_PUBLIC_KEYS": self._secrets.trust_public,
            "TWEESTAP_SMTP_PORT": str(self.smtp_port),
            "TWEESTAP_SMS_URL": self.sms_url,
            **self.env,
        }
        if child.service == "auth":
            env["TWEESTAP_TRUST_PRIVATE_KEY"] = self._secrets.trust_private
        return env

    def _spawn(self, child: _Child, restarted: bool = False) -> None:
        """Start ``child``'s process (with the lock held); ``restarted``: by the supervisor
        (a start on request forgets earlier crashes)."""
        child.log_file.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "services.cli", "serve", child.service]
        command += ["--zone", child.zone, "--port", str(child.port)]
        with child.log_file.open("ab") as log:
            child.process = subprocess.Popen(  # noqa: S603 - our own command line
                command,
                env=self._environment(child),
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in the terminal reaches `tweestap dev` only, which
                # then stops the services in order (not the supervisor racing their exits).
                start_new_session=True,
            )
        child.started_at = time.monotonic()
        child.restart_at = None
        child.restarted = restarted
        if not restarted:
            child.quick_exits = 0

    def _supervise(self) -> None:
        while not self._stopping.wait(0.1):
            with self._lock:
                for child in self._children.values():
                    self._tend(child)
            self._report_ready()

    def _tend(self, child: _Child) -> None:
        """Notice an exit nobody asked for, schedule the restart with back-off, restart."""
        if child.held or child.process is None:
            return
        code = child.process.poll()
        if code is None:
            return
        now = time.monotonic()
        if child.restart_at is None:
            ceiling = self.settings.restart_backoff_max_seconds
            quick = child.restarted and now - child.started_at < ceiling
            child.quick_exits = child.quick_exits + 1 if quick else 0
            delay = restart_delay(child.quick_exits, self.settings.restart_backoff_seconds, ceiling)
            child.restart_at = now + delay
            self.echo(f"{child.name} exited ({_exit_reason(code)}); restarting in {delay:.1f} s")
        elif now >= child.restart_at:
            self._spawn(child, restarted=True)
            child.restarts += 1
            child.awaiting_ready = True

    def _report_ready(self) -> None:
        """Say when a restarted service is ready again (outside the lock: a probe may wait)."""
        with self._lock:
            waiting = [c for c in self._children.values() if c.awaiting_ready and c.alive()]
        for child in waiting:
            if ready(child.ops_port, timeout=0.3):
                child.awaiting_ready = False
                took = time.monotonic() - child.started_at
                self.echo(
                    f"{child.name} restarted (pid {self.pid(child.service, child.zone)}), "
                    f"ready after {took:.1f} s"
                )
