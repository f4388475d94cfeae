"""Both zones of every service as supervised OS processes on one machine: ``tweestap dev``, the
fault tests and ``tweestap bench failover`` all run this.

Embedded PostgreSQL per zone, the embedded broker, the SMTP and SMS sinks, and the services
(kept running by services/dev/supervisor.py); a zone, a service, a zone's PostgreSQL or the
broker can be taken down and brought back on request.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import asyncpg
from aiosmtpd.controller import Controller

from services.auth.commands import bootstrap_practice
from services.auth.settings import AuthSettings
from services.dev import ports
from services.dev.infra import SERVICE_ROLE, Broker, Postgres, free_port, wait_for_port
from services.dev.run_folder import RunFolder
from services.dev.settings import DevSettings
from services.dev.sinks import SmsSink, start_smtp_sink
from services.dev.supervisor import Echo, ServiceProcess, Supervisor, tail
from services.registry import SERVICES
from shared import trust
from shared.db import ensure_database
from shared.sealing import generate_key
from shared.settings import OPS_PORT_OFFSET

__all__ = ["Deployment", "DevSettings", "run_sync"]

T = TypeVar("T")
PortMode = Literal["fixed", "free"]
ZONES = ("a", "b")
FIXED_BROKER_PORT = 9092
FIXED_SMTP_PORT = 2525
FIXED_SMS_PORT = 2526
#: The web front end in ``tweestap dev`` (fixed ports only): the passkeys' default origin.
FIXED_WEB_PORT = 8100
#: The proxies the services believe in ``tweestap dev``: the web front end beside them.
TRUSTED_LOCAL = '["127.0.0.1/32", "::1/128"]'


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from synchronous code, even when the calling thread
    has an event loop of its own (a test's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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

    ``ports="fixed"``: the documented ports (8101…, broker 9092, SMTP 2525, SMS 2526, web
    8100), each plus ``settings.port_offset``; ``"free"``: free ones (tests, benchmarks).
    ``web``: also run the web front end (default: with fixed ports only). ``env`` is added to
    every service's environment. Every process's pid is kept in ``root/run/NAME.pid``.
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
        web: bool | None = None,
    ) -> None:
        self.root = root.resolve()
        self.zones = tuple(zones)
        self.services = tuple(services)
        self.env = dict(env or {})
        self.echo = echo
        self.settings = settings or DevSettings()
        self.run = RunFolder(self.root / "run")
        free = ports == "free"
        pick = _Ports()
        offset = self.settings.port_offset

        def fixed(port: int) -> int:
            return port + offset

        self.broker_port = pick.one() if free else fixed(FIXED_BROKER_PORT)
        self.smtp_port = pick.one() if free else fixed(FIXED_SMTP_PORT)
        self.sms_port = pick.one() if free else fixed(FIXED_SMS_PORT)
        processes = [
            ServiceProcess(
                service,
                zone,
                pick.one(with_ops=True) if free else fixed(SERVICES[service].default_port(zone)),
                self.root / "logs" / f"{service}-{zone}.log",
            )
            for zone in self.zones
            for service in self.services
        ]
        self.supervisor = Supervisor(
            processes, self._environment, self.settings, echo, run=self.run
        )
        self._postgres: dict[str, Postgres] = {}
        self._broker: Broker | None = None
        self._smtp: Controller | None = None
        self._sms: SmsSink | None = None
        self._secrets: _Secrets | None = None
        #: The web front end's port (None: no web front end).
        self.web_port: int | None = None
        if web if web is not None else not free:
            self.web_port = pick.one() if free else fixed(FIXED_WEB_PORT)
        self._web: subprocess.Popen[bytes] | None = None
        self._web_log_offset = 0

    def wanted_ports(self) -> list[ports.Wanted]:
        """Every port this deployment listens on, and what listens there."""
        wanted = [
            ports.Wanted(self.broker_port, "the broker"),
            ports.Wanted(self.smtp_port, "the SMTP sink"),
            ports.Wanted(self.sms_port, "the SMS sink"),
        ]
        if self.web_port is not None:
            wanted.append(ports.Wanted(self.web_port, "the web front end"))
        for p in self.supervisor.all():
            wanted.append(ports.Wanted(p.port, p.name))
            wanted.append(ports.Wanted(p.ops_port, f"{p.name}, operations listener"))
        return wanted

    @property
    def issuer(self) -> str | None:
        """The issuer of every token when the web front end runs: its address, the front
        door (None: the services' own default)."""
        return None if self.web_port is None else f"http://localhost:{self.web_port}"

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
        """Start everything and return once every service answers 200 on ``/readyz``; what
        started is stopped again when something fails on the way."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        # Before anything starts: a taken port is said at once, not after 90 s of restarts.
        ports.check(self.wanted_ports(), self.run)
        self.root.mkdir(parents=True, exist_ok=True)
        self._secrets = _Secrets.under(self.root / "dev")
        for zone in self.zones:
            self._postgres[zone] = Postgres(self.root / f"pg-{zone}")
            # For `tweestap client` beside it: the running deployment's auth, nothing to copy.
            self.run.write_settings(f"auth-{zone}", self.auth_settings(zone))
        self._broker = Broker(self.broker_port, self.root / "logs" / "broker.log")
        self._broker.start()
        assert self._broker.process is not None
        self.run.write_pid("broker", self._broker.process.pid)
        self._smtp = start_smtp_sink(self.mail_folder, "127.0.0.1", self.smtp_port)
        self._sms = SmsSink(self.sms_folder, "127.0.0.1", self.sms_port)
        self._sms.start()
        run_sync(self._ensure_databases())
        # The web first (it needs nothing to start): it is up by the time the services are.
        if self.web_port is not None:
            self._start_web(self.web_port)
        self.supervisor.start()
        if self.web_port is not None:
            self._wait_web(self.web_port)

    def _start_web(self, port: int) -> None:
        """The web front end (no zone, no database): both zones' services, a session key kept
        like the other dev secrets (sessions survive a restart)."""
        key = _secret_file(
            self.root / "dev" / "web-session-key",
            lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        )
        zones = [
            {s: self.url(s, z) for s in ("auth", "enrolment", "certs") if s in self.services}
            for z in self.zones
        ]
        env = {
            **os.environ,
            "TWEESTAP_WEB_ZONES": json.dumps(zones),
            "TWEESTAP_WEB_SESSION_KEY": key,
            "TWEESTAP_WEB_PORT": str(port),
            **self._front_door(),
            **self.env,
        }
        log = self.web_log.open("ab")
        self._web_log_offset = log.tell()
        self._web = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", "web"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.run.write_pid("web", self._web.pid)

    def _wait_web(self, port: int) -> None:
        """Until the web front end listens; PortTaken or RuntimeError when it exited."""
        assert self._web is not None
        deadline = time.monotonic() + self.settings.ready_timeout_seconds
        while True:
            try:
                wait_for_port("127.0.0.1", port, timeout=0.2)
                return
            except TimeoutError:
                pass
            if self._web.poll() is not None:
                with self.web_log.open("rb") as log:
                    log.seek(self._web_log_offset)
                    said = log.read().decode(errors="replace")
                if ports.bind_failure(said) is not None:
                    holders = ports.listeners([port])
                    holder = ports.describe(holders[port]) if port in holders else None
                    raise ports.PortTaken(
                        [ports.Taken(ports.Wanted(port, "the web front end"), holder)],
                        self.run.path,
                    )
                raise RuntimeError(f"the web front end exited\n{tail(self.web_log)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the web front end does not listen\n{tail(self.web_log)}")

    @property
    def web_log(self) -> Path:
        return self.root / "logs" / "web.log"

    async def _ensure_databases(self) -> None:
        """Every service's database and the services' role, the zones' servers side by side
        (one server at a time: concurrent ``CREATE DATABASE`` from one template fails)."""

        async def zone(zone: str) -> None:
            for service in self.services:
                await ensure_database(self.dsn(service, zone), SERVICE_ROLE)

        await asyncio.gather(*(zone(z) for z in self.zones))

    def stop(self) -> None:
        """Stop the services (gracefully), then the sinks, the broker and the databases."""
        if self._web is not None:
            self._web.terminate()
            try:
                self._web.wait(10)
            except subprocess.TimeoutExpired:
                self._web.kill()
                self._web.wait()
            self._web = None
        self.supervisor.stop()
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._sms is not None:
            self._sms.stop()
            self._sms = None
        if self._broker is not None:
            if self._broker.process is not None:
                self._broker.resume()  # a paused broker cannot act on SIGTERM
            self._broker.stop()
            self._broker = None
        for pg in self._postgres.values():
            with contextlib.suppress(Exception):
                if pg.running:
                    pg.stop()
        self._postgres = {}
        for name in self.run.pids().values():
            if name != "tweestap-dev":
                self.run.pid_file(name).unlink(missing_ok=True)

    # -- where things are --------------------------------------------------------------------

    def url(self, service: str, zone: str) -> str:
        return f"http://127.0.0.1:{self.supervisor.get(service, zone).port}"

    def ops_url(self, service: str, zone: str) -> str:
        """The operations listener: ``/readyz``, ``/healthz``, ``/metrics``."""
        return f"http://127.0.0.1:{self.supervisor.get(service, zone).ops_port}"

    def dsn(self, service: str, zone: str) -> str:
        """The service's database as the tables' owner (the superuser): migrations, the audit
        purge, and whatever the tools here read."""
        return self._postgres[zone].socket_dsn(service)

    def service_dsn(self, service: str, zone: str) -> str:
        """The service's database as the role it serves requests as (owns no table)."""
        return self._postgres[zone].socket_dsn(service, SERVICE_ROLE)

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
        return self.supervisor.get(service, zone).log_file

    def pid(self, service: str, zone: str) -> int:
        process = self.supervisor.get(service, zone).process
        if process is None:
            raise LookupError(f"{service} zone {zone} has not been started")
        return process.pid

    def restarts(self, service: str, zone: str) -> int:
        """How often the supervisor restarted this service (not counting ``release``)."""
        return self.supervisor.get(service, zone).restarts

    def is_up(self, service: str, zone: str) -> bool:
        return self.supervisor.get(service, zone).alive()

    def postgres_running(self, zone: str) -> bool:
        return zone in self._postgres and self._postgres[zone].running

    @property
    def sealing_keys(self) -> str:
        """The deployment's sealing keys (``TWEESTAP_SEALING_KEYS`` of every service)."""
        assert self._secrets is not None
        return self._secrets.sealing

    # -- faults ------------------------------------------------------------------------------

    def kill(self, service: str, zone: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the service as something outside would: the supervisor notices the
        exit and restarts it (that is the point)."""
        self.supervisor.kill(service, zone, sig)

    def hold(self, service: str, zone: str, sig: int = signal.SIGINT) -> None:
        """Stop the service with ``sig`` (SIGINT: gracefully) and keep it down."""
        self.supervisor.hold(service, zone, sig)

    def release(self, service: str, zone: str, wait: bool = True) -> None:
        """Start a held service again (at once, no back-off); ``wait``: until it is ready."""
        self.supervisor.release([self.supervisor.get(service, zone)], wait)

    def zone_is_down(self, zone: str) -> bool:
        """Every service of ``zone`` held down and its PostgreSQL stopped."""
        held = all(
            self.supervisor.get(s, zone).held and not self.is_up(s, zone) for s in self.services
        )
        return held and not self._postgres[zone].running

    def zone_is_up(self, zone: str) -> bool:
        """Every service of ``zone`` running (none held) and its PostgreSQL running."""
        running = all(
            self.is_up(s, zone) and not self.supervisor.get(s, zone).held for s in self.services
        )
        return running and self._postgres[zone].running

    def zone_down(self, zone: str) -> list[str]:
        """Every service of ``zone`` SIGKILLed and kept down, then its PostgreSQL stopped; a
        zone that is down already stays as it is."""
        if self.zone_is_down(zone):
            return [self._say(f"zone {zone} is already down")]
        for service in self.services:
            self.hold(service, zone, signal.SIGKILL)
        said = [self._say(f"zone {zone}: {', '.join(self.services)} killed (SIGKILL), held")]
        if self._postgres[zone].running:
            said.append(self.postgres_down(zone))
        return said

    def zone_up(self, zone: str) -> list[str]:
        """PostgreSQL of ``zone`` back, then its services started and ready; a zone that is
        up already stays as it is."""
        if self.zone_is_up(zone):
            return [self._say(f"zone {zone} is already up")]
        said = [] if self._postgres[zone].running else [self.postgres_up(zone)]
        started = time.monotonic()
        self.supervisor.release(self.supervisor.get(service, zone) for service in self.services)
        took = time.monotonic() - started
        said.append(self._say(f"zone {zone}: {', '.join(self.services)} ready ({took:.1f} s)"))
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
        self.supervisor.release(self.supervisor.all())
        return said

    # -- waiting -----------------------------------------------------------------------------

    def wait_restarted(self, service: str, zone: str, restarts: int) -> None:
        """Until the supervisor has restarted the service since it had ``restarts``, and the
        new process is ready."""
        self.supervisor.wait_restarted(service, zone, restarts)

    def wait_service_ready(self, service: str, zone: str, timeout: float | None = None) -> None:
        self.supervisor.wait_ready([self.supervisor.get(service, zone)], timeout)

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
        first = zone or self.zones[0]
        settings = self.auth_settings(first)
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

    # -- the services' environment -------------------------------------------------------------

    def auth_settings(self, zone: str) -> AuthSettings:
        """Auth's settings of ``zone`` as its service gets them, for work done in this process
        (bootstrap, the demo administrator's check and reset): the tables' owner connects."""
        assert self._secrets is not None
        return AuthSettings(
            **self._auth_overrides(),
            zone=zone,
            database_url=self.service_dsn("auth", zone),
            database_owner_url=self.dsn("auth", zone),
            sealing_keys=self._secrets.sealing,
        )

    def _auth_overrides(self) -> dict[str, Any]:
        """Auth's settings among what the services get (``env``, e.g. argon2 costs; the
        issuer), for work done in this process."""
        prefix = "TWEESTAP_"
        issuer = {"TWEESTAP_ISSUER": self.issuer} if self.issuer else {}
        names = {
            key.removeprefix(prefix).lower(): value
            for key, value in {**issuer, **self.env}.items()
            if key.startswith(prefix)
        }
        return {name: value for name, value in names.items() if name in AuthSettings.model_fields}

    def _front_door(self) -> dict[str, str]:
        """With the web front end: it is the issuer (``iss`` of every token, the discovery
        document's base; auth, enrolment and certs must agree on it) and the origin passkeys
        are made at, on whatever port it has."""
        if self.web_port is None:
            return {}
        origin = f"http://localhost:{self.web_port}"
        return {
            "TWEESTAP_ISSUER": origin,  # the same in auth, enrolment and certs
            "TWEESTAP_WEB_ISSUER": origin,  # and at the web, which serves the provider
            "TWEESTAP_WEBAUTHN_ORIGINS": json.dumps([origin]),
            # The web front end on this machine passes each browser's address on (the SDK's
            # acting_for): believe it, so every person has their own login budget.
            "TWEESTAP_TRUSTED_PROXIES": TRUSTED_LOCAL,
        }

    def _say(self, message: str) -> str:
        self.echo(message)
        return message

    def _environment(self, p: ServiceProcess) -> dict[str, str]:
        assert self._secrets is not None
        env = {
            **os.environ,
            "TWEESTAP_ZONE": p.zone,
            "TWEESTAP_DATABASE_URL": self.service_dsn(p.service, p.zone),
            "TWEESTAP_DATABASE_OWNER_URL": self.dsn(p.service, p.zone),
            "TWEESTAP_KAFKA_BOOTSTRAP": self.broker_bootstrap,
            "TWEESTAP_SEALING_KEYS": self._secrets.sealing,
            "TWEESTAP_BSN_KEY": self._secrets.bsn_key,
            "TWEESTAP_TRUST_PUBLIC_KEYS": self._secrets.trust_public,
            "TWEESTAP_SMTP_PORT": str(self.smtp_port),
            "TWEESTAP_SMS_URL": self.sms_url,
            **self._front_door(),
            **self.env,
        }
        if p.service == "auth":
            env["TWEESTAP_TRUST_PRIVATE_KEY"] = self._secrets.trust_private
        return env
