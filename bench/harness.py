"""What the benchmarks share: a private stack (embedded PostgreSQL, Tansu broker, ONE auth
server: one process, or with ``--workers`` a supervisor and its workers; with ``web``, the web
front door before it) in a temporary folder, a closed-loop HTTP load generator running in
separate client processes, process CPU/RSS sampling and the JSON report."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import psutil
from argon2 import PasswordHasher, Type

from services.auth.commands import bootstrap_practice
from services.auth.settings import AuthSettings
from services.dev.infra import (
    Broker,
    Postgres,
    free_port,
    wait_for_port,
    with_timeout_terminate,
)
from shared.db import ensure_database
from shared.sealing import generate_key
from shared.settings import OPS_PORT_OFFSET, Settings
from shared.trust import generate as generate_trust_key

PRACTICE = "bench"
USERNAME = "admin"
MB = 1024 * 1024
READY_TIMEOUT_S = 60.0
#: Time the parent gives client processes to start before the warm-up and measured window.
START_SLACK_S = 0.5
NOTE = (
    "The load generator, PostgreSQL, the broker and the auth server share this machine's "
    f"{os.cpu_count()} cores; figures are lower than on a dedicated server. In cpu_s_*, "
    "'outside' is CPU that other processes on the machine used meanwhile."
)


def log(message: str) -> None:
    """Progress goes to stderr: stdout carries only the JSON report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- command line


def base_parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"tweestap bench {prog}", description=description)
    p.add_argument("--seconds", type=float, default=10.0, help="measured load duration")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    p.add_argument("--processes", type=int, default=1, help="client processes")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured load before")
    return p


def add_workers_argument(p: argparse.ArgumentParser) -> None:
    """``--workers N``: the auth server as N worker processes behind its one port."""
    p.add_argument("--workers", type=int, default=1, help="auth server processes (one port)")


# --------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    folder: Path
    base_url: str
    #: The operations listener (``/metrics``, ``/readyz``): the public port + 1000.
    ops_url: str
    server: subprocess.Popen[bytes]
    server_log: Path
    postgres_pid: int | None
    broker_pid: int | None
    settings: AuthSettings
    password: str
    practice: str = PRACTICE
    username: str = USERNAME
    #: Above 1, ``server`` is the supervisor of this many worker processes.
    workers: int = 1
    #: The web front door (``auth_stack(web=True)``): the issuer, relaying to ``server``.
    web: FrontDoor | None = None


@dataclass
class FrontDoor:
    """``tweestap serve web`` with the stack's auth as its only zone; its URL is the issuer."""

    url: str
    process: subprocess.Popen[bytes]
    log_file: Path


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def auth_stack(workers: int = 1, web: bool = False, profile: Path | None = None) -> Iterator[Stack]:
    """Start everything in a fresh folder under /tmp; stop and remove it all on the way out,
    also on Ctrl-C or SIGTERM. ``web``: the web front door too, as the issuer. ``profile``: a
    folder where auth (one process) and the web write their cProfile statistics when they
    stop (``auth.prof``, ``web.prof``; bench/profiled.py), slower meanwhile: the figures are
    not comparable."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    folder = Path(tempfile.mkdtemp(prefix="tweestap-bench-", dir="/tmp"))
    postgres: Postgres | None = None
    broker: Broker | None = None
    server: subprocess.Popen[bytes] | None = None
    front_door: FrontDoor | None = None
    try:
        log(f"starting PostgreSQL and the broker in {folder}")
        postgres = Postgres(folder / "pg")
        broker = Broker(free_port(), folder / "broker.log")
        broker.start()
        settings, password, employee = _bootstrap(postgres, broker)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        issuer: dict[str, str] = {}
        if web:
            web_profile = profile / "web.prof" if profile else None
            front_door = start_web(free_port(), base_url, folder / "web.log", web_profile)
            # Auth names the front door as the issuer (``iss``, discovery), as under tweestap dev.
            issuer = {"TWEESTAP_ISSUER": front_door.url}
            settings = settings.model_copy(update={"issuer": front_door.url})
        server_log = folder / "auth.log"
        auth_profile = profile / "auth.prof" if profile else None
        server = start_server(
            "auth", settings, port, server_log, issuer, workers=workers, profile=auth_profile
        )
        wait_ready("auth", port, server, server_log, workers)
        if front_door is not None:
            wait_web(front_door)
        asyncio.run(_wait_materialised(settings.database_url, employee, server_log))
        yield Stack(
            folder,
            base_url,
            ops_url(port),
            server,
            server_log,
            postgres.server.get_pid(),
            broker.process.pid if broker.process else None,
            settings,
            password,
            workers=workers,
            web=front_door,
        )
    finally:
        log("stopping")
        if front_door is not None:
            stop_server(front_door.process)
        if server is not None:
            stop_server(server)
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _bootstrap(postgres: Postgres, broker: Broker) -> tuple[AuthSettings, str, str]:
    dsn = postgres.socket_dsn("auth")
    asyncio.run(ensure_database(dsn))
    password = secrets.token_urlsafe(24)
    trust_private, trust_public = generate_trust_key()
    settings = AuthSettings(
        zone="a",
        database_url=dsn,
        kafka_bootstrap=broker.bootstrap,
        sealing_keys=f"bench:{generate_key()}",
        trust_private_key=trust_private,
        trust_public_keys=trust_public,
    )
    employee = asyncio.run(
        bootstrap_practice(settings, PRACTICE, "Bench Fysio", USERNAME, "Bench Admin", password)
    )
    return settings, password, employee


async def _wait_materialised(dsn: str, employee: str, log_file: Path) -> None:
    """Bootstrapping publishes the practice and administrator through the outbox; the server
    materialises them from the broker. Polling the database (not logging in) because failed
    logins count toward the lockout."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    conn = await asyncpg.connect(dsn)
    try:
        while not await conn.fetchval(
            "SELECT 1 FROM practices p JOIN employees e ON e.practice = p.id "
            "JOIN credentials c ON c.practice = p.id AND c.employee = e.id "
            "WHERE p.id = $1 AND e.id = $2",
            PRACTICE,
            employee,
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"practice not materialised:\n{tail(log_file)}")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    log("practice materialised")


def _trust_private_env(settings: Settings) -> dict[str, str]:
    """Auth signs its key announcements with the trust key (the other services only check)."""
    if not isinstance(settings, AuthSettings):
        return {}
    return {"TWEESTAP_TRUST_PRIVATE_KEY": settings.trust_private_key.get_secret_value()}


def _load_env(settings: Settings) -> dict[str, str]:
    """The load comes from one address: auth's per-address login budget would otherwise
    measure 429 answers, not logins (TWEESTAP_LOGIN_RATE_ATTEMPTS, issue 10 #7)."""
    if not isinstance(settings, AuthSettings):
        return {}
    return {"TWEESTAP_LOGIN_RATE_ATTEMPTS": "100000", "TWEESTAP_LOGIN_RATE_WINDOW_SECONDS": "1"}


def start_server(
    service: str,
    settings: Settings,
    port: int,
    log_file: Path,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
    profile: Path | None = None,
) -> subprocess.Popen[bytes]:
    """One ``tweestap serve SERVICE`` process with the settings the stack needs (with
    ``workers`` above 1: the supervisor of that many; with ``profile``, under cProfile)."""
    env = {
        **os.environ,
        "TWEESTAP_ZONE": settings.zone,
        "TWEESTAP_DATABASE_URL": settings.database_url,
        "TWEESTAP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TWEESTAP_SEALING_KEYS": settings.sealing_keys.get_secret_value(),
        "TWEESTAP_TRUST_PUBLIC_KEYS": settings.trust_public_keys,
        "TWEESTAP_LOG_LEVEL": "WARNING",
        **_trust_private_env(settings),
        **_load_env(settings),
        **(extra_env or {}),
    }
    command = [*_tweestap(profile), "serve", service, "--zone", settings.zone]
    with log_file.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own command line
            [*command, "--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _tweestap(profile: Path | None) -> list[str]:
    """The ``tweestap`` command; with ``profile``, under cProfile (bench/profiled.py)."""
    if profile is None:
        return [sys.executable, "-m", "services.cli"]
    return [sys.executable, "-m", "bench.profiled", str(profile)]


def start_web(port: int, auth_url: str, log_file: Path, profile: Path | None = None) -> FrontDoor:
    """The web front door on ``port``, with ``auth_url`` as its one zone (the login and the
    provider need only auth) and a session key of its own."""
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TWEESTAP_WEB_PORT": str(port),
        "TWEESTAP_WEB_ZONES": json.dumps([{"auth": auth_url}]),
        "TWEESTAP_WEB_ISSUER": url,
        "TWEESTAP_WEB_SESSION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "TWEESTAP_LOG_LEVEL": "WARNING",
    }
    with log_file.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            [*_tweestap(profile), "serve", "web", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return FrontDoor(url, process, log_file)


def wait_web(web: FrontDoor) -> None:
    """Until the front door listens (it has no probes of its own)."""
    port = urlsplit(web.url).port or 0
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            wait_for_port("127.0.0.1", port, timeout=0.2)
            break
        except TimeoutError:
            pass
        if web.process.poll() is not None:
            code = web.process.returncode
            raise RuntimeError(f"web exited ({code}):\n{tail(web.log_file)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"web not listening in {READY_TIMEOUT_S:.0f} s")
    log(f"web ready (pid {web.process.pid}, port {port})")


def ops_url(port: int) -> str:
    """Where a server started with public ``port`` serves its probes and metrics (the default
    operations port; free ports on Linux stay below 61000, so + 1000 is a valid port)."""
    return f"http://127.0.0.1:{port + OPS_PORT_OFFSET}"


def _ready(port: int) -> bool:
    """Whether the server's /readyz (on its operations listener) answers 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port + OPS_PORT_OFFSET, timeout=2)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def wait_ready(
    service: str, port: int, server: subprocess.Popen[bytes], log_file: Path, workers: int = 1
) -> None:
    """Until /readyz answers 200; with workers, until every worker has started and the probe
    has said 200 as many times in a row (any worker may answer it)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not (_workers_started(server.pid, workers) and all(_ready(port) for _ in range(workers))):
        if server.poll() is not None:
            raise RuntimeError(f"{service} exited ({server.returncode}):\n{tail(log_file)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service} not ready in {READY_TIMEOUT_S:.0f} s:\n{tail(log_file)}")
        time.sleep(0.2)
    log(f"{service} ready (pid {server.pid}, port {port})")


def _workers_started(pid: int, workers: int) -> bool:
    return workers == 1 or len(worker_pids(pid)) >= workers


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGINT first: aiohttp then shuts down gracefully (consumers, pool, Kafka producer)."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(10)
    with_timeout_terminate(server)


def argon2id(settings: AuthSettings) -> PasswordHasher:
    """argon2id with auth's parameters (what its hashing threads run)."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


@contextlib.contextmanager
def floor_server(
    module: str, port: int, answers: Callable[[], bool], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m MODULE PORT`` (a bare floor server: bench/floor_server.py), its output
    discarded, once ``answers`` says it serves; terminated at the end."""
    server = subprocess.Popen(  # noqa: S603 - this interpreter, a module of this package
        [sys.executable, "-m", module, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 30
        while not answers():
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"{module} did not start")
            time.sleep(0.1)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)


def ensure_alive(stack: Stack) -> None:
    """A server that died during the load makes the figures meaningless."""
    if stack.server.poll() is not None:
        code = stack.server.returncode
        raise RuntimeError(f"auth server exited ({code}):\n{tail(stack.server_log)}")
    if stack.web is not None and stack.web.process.poll() is not None:
        code = stack.web.process.returncode
        raise RuntimeError(f"web exited ({code}):\n{tail(stack.web.log_file)}")


# --------------------------------------------------------------------------- processes


def rss_mb(pid: int) -> float:
    """Resident set size in MiB."""
    return round(float(psutil.Process(pid).memory_info().rss) / MB, 1)


def worker_pids(pid: int) -> list[int]:
    """The worker processes of a supervisor (none for a single server process)."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def process_rss_mb(stack: Stack) -> float:
    """The resident memory of one server process (with workers: the largest worker's)."""
    if stack.workers == 1:
        return rss_mb(stack.server.pid)
    return max(rss_mb(pid) for pid in worker_pids(stack.server.pid))


def server_rss(stack: Stack) -> dict[str, Any]:
    """The server's resident memory in MiB: the total, and with workers each one's (the
    supervisor counts in the total)."""
    if stack.workers == 1:
        return {"total": rss_mb(stack.server.pid)}
    workers = [rss_mb(pid) for pid in worker_pids(stack.server.pid)]
    return {
        "total": round(rss_mb(stack.server.pid) + sum(workers), 1),
        "supervisor": rss_mb(stack.server.pid),
        "workers": workers,
    }


def _cpu(process: Any) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user) + float(times.system)


def _processes(pid: int | None, tree: bool) -> list[Any]:
    if pid is None:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)] if tree else [root]
    except psutil.Error:
        return []


class CpuMeter:
    """CPU seconds (user + system) per group of processes between ``start`` and ``stop``.

    Groups named in ``trees`` count the process and its descendants (PostgreSQL's backends),
    as found at ``start``; backends that exit meanwhile are not counted.
    """

    def __init__(
        self,
        groups: dict[str, list[int | None]],
        trees: frozenset[str] = frozenset(),
        threads_of: int | None = None,
    ) -> None:
        self._groups = dict(groups)
        self._trees = trees
        #: A process whose main thread and other threads are also measured apart
        #: (``threads``: their CPU seconds in the window, :func:`thread_split`).
        self._threads_of = threads_of
        self._threads_start: dict[int, float] = {}
        self.threads: tuple[float, float] | None = None
        self._procs: dict[str, list[Any]] = {}
        self._start: dict[str, float] = {}
        self._machine = 0.0
        self.seconds: dict[str, float] = {}

    def add(self, name: str, pids: list[int | None]) -> None:
        self._groups[name] = pids

    def start(self) -> None:
        self._procs = {
            name: [p for pid in pids for p in _processes(pid, name in self._trees)]
            for name, pids in self._groups.items()
        }
        self._start = {name: sum(map(_cpu, ps)) for name, ps in self._procs.items()}
        self._machine = _machine_busy()
        if self._threads_of is not None:
            self._threads_start = thread_cpu(self._threads_of)

    def stop(self) -> dict[str, float]:
        """CPU seconds per group, plus ``outside``: what other processes on this machine used
        meanwhile (a busy neighbour lowers every figure)."""
        self.seconds = {
            name: round(sum(map(_cpu, ps)) - self._start[name], 3)
            for name, ps in self._procs.items()
        }
        if self._threads_of is not None:
            self.threads = thread_split(self._threads_of, self._threads_start)
        machine = _machine_busy() - self._machine
        self.seconds["outside"] = round(max(0.0, machine - sum(self.seconds.values())), 3)
        return self.seconds


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of process ``pid`` so far; its main
    thread (the event loop) has the process's id."""
    try:
        return {
            t.id: float(t.user_time) + float(t.system_time) for t in psutil.Process(pid).threads()
        }
    except psutil.Error:
        return {}


def per_login_ms(threads: tuple[float, float] | None, which: int, logins: int) -> float | None:
    """A thread group's CPU milliseconds per login (:attr:`CpuMeter.threads`: 0 the event
    loop, 1 the other threads)."""
    return round(1000 * threads[which] / logins, 2) if threads and logins else None


def thread_niceness(pid: int) -> dict[str, int]:
    """How many threads of process ``pid`` run at each niceness: auth's hashing threads are
    the ones below its event loop (``TWEESTAP_HASH_NICENESS``)."""
    found: dict[str, int] = {}
    try:
        threads = psutil.Process(pid).threads()
    except psutil.Error:
        return found
    for thread in threads:
        try:
            niceness = str(os.getpriority(os.PRIO_PROCESS, thread.id))
        except OSError:  # the thread ended meanwhile
            continue
        found[niceness] = found.get(niceness, 0) + 1
    return dict(sorted(found.items(), key=lambda item: int(item[0])))


def thread_split(pid: int, before: dict[int, float]) -> tuple[float, float]:
    """CPU seconds since ``before`` (:func:`thread_cpu`) of ``pid``'s main thread, and of
    all its other threads (threads that ended meanwhile are not counted)."""
    now = thread_cpu(pid)
    main = now.get(pid, 0.0) - before.get(pid, 0.0)
    others = sum(cpu - before.get(tid, 0.0) for tid, cpu in now.items() if tid != pid)
    return round(main, 3), round(others, 3)


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine, all cores (guest time is inside user time)."""
    t = psutil.cpu_times()
    idle = float(t.idle) + float(getattr(t, "iowait", 0.0))
    guest = float(getattr(t, "guest", 0.0)) + float(getattr(t, "guest_nice", 0.0))
    return float(sum(t)) - idle - guest


def stack_meter(stack: Stack, **more: list[int | None]) -> CpuMeter:
    """A meter over the server (with workers: the supervisor and all of them), PostgreSQL
    (all its processes), the broker, the web front door when the stack has one, and
    ``more``; a single server process's threads apart too (``threads``)."""
    web: dict[str, list[int | None]] = {"web": [stack.web.process.pid]} if stack.web else {}
    groups: dict[str, list[int | None]] = {
        "server": [stack.server.pid],
        **web,
        "postgres": [stack.postgres_pid],
        "broker": [stack.broker_pid],
        **more,
    }
    trees = {"postgres", "server"} if stack.workers > 1 else {"postgres"}
    threads_of = stack.server.pid if stack.workers == 1 else None
    return CpuMeter(groups, trees=frozenset(trees), threads_of=threads_of)


# --------------------------------------------------------------------------- load


class Scenario(Protocol):
    """What one closed-loop iteration does. ``part`` gives client process ``index`` of
    ``count`` its own share (e.g. its own users), so processes never collide."""

    async def once(self, session: aiohttp.ClientSession) -> str | None: ...

    def part(self, index: int, count: int) -> Scenario: ...


@dataclass(frozen=True)
class RequestSpec:
    """One request, repeated. Success: status 200 and a non-empty ``expect`` (dotted path)."""

    method: str
    url: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: str = "token"

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        return await _one(session, self)

    def part(self, index: int, count: int) -> RequestSpec:
        return self


class Steps:
    """The latency of each named step of a scenario that takes several requests (a login's
    pages, a code's exchange): a scenario that has one as its ``steps`` attribute times its
    steps that succeeded with :meth:`done`, and the load keeps those that ended inside the
    measured window, in :attr:`LoadResult.steps`."""

    def __init__(self) -> None:
        #: Step -> (when it ended, monotonic; its milliseconds).
        self._times: dict[str, list[tuple[float, float]]] = {}

    def done(self, step: str, began: float) -> None:
        """``step``, begun at ``began`` (time.monotonic()), has succeeded now."""
        now = time.monotonic()
        self._times.setdefault(step, []).append((now, (now - began) * 1000))

    def within(self, start_at: float, end_at: float) -> dict[str, list[float]]:
        return {
            step: [ms for done, ms in times if start_at <= done < end_at]
            for step, times in self._times.items()
        }


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    late_start_s: float = 0.0
    #: With a scenario that has :class:`Steps`: each step's latencies in the window.
    steps: dict[str, list[float]] = field(default_factory=dict)

    def merge(self, other: LoadResult) -> None:
        self.ok += other.ok
        self.errors += other.errors
        self.latencies_ms += other.latencies_ms
        self.late_start_s = max(self.late_start_s, other.late_start_s)
        for step, times in other.steps.items():
            self.steps.setdefault(step, []).extend(times)
        for sample in other.error_samples:
            if len(self.error_samples) < 5 and sample not in self.error_samples:
                self.error_samples.append(sample)


def _dig(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    expect: str,
    status: int = 200,
) -> tuple[dict[str, Any] | None, str | None]:
    """Send one request: (the JSON answer, None) on success (``status`` and a non-empty
    ``expect``), else (None, a short description of the failure)."""
    try:
        async with session.request(method, url, data=body, headers=headers) as resp:
            text = await resp.text()
            if resp.status != status:
                return None, f"HTTP {resp.status}: {text[:200]}"
            data = json.loads(text)
            if not _dig(data, expect):
                return None, f"no {expect!r} in answer: {text[:200]}"
            return data, None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


async def _one(session: aiohttp.ClientSession, spec: RequestSpec) -> str | None:
    _, failure = await request_json(
        session, spec.method, spec.url, spec.body, spec.headers, spec.expect
    )
    return failure


async def _worker(
    session: aiohttp.ClientSession, spec: Scenario, start_at: float, end_at: float
) -> LoadResult:
    """Closed loop: one request at a time until ``end_at``. Counts the requests that complete
    inside the measured window [start_at, end_at), the same window the CPU is measured in."""
    result = LoadResult()
    while (began := time.monotonic()) < end_at:
        failure = await spec.once(session)
        done = time.monotonic()
        if not start_at <= done < end_at:
            continue
        if failure is None:
            result.ok += 1
            result.latencies_ms.append((done - began) * 1000)
        else:
            result.errors += 1
            if len(result.error_samples) < 5:
                result.error_samples.append(failure)
    return result


async def _client(spec: Scenario, concurrency: int, start_at: float, end_at: float) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    result = LoadResult(late_start_s=max(0.0, time.monotonic() - start_at))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        parts = await asyncio.gather(
            *(_worker(session, spec, start_at, end_at) for _ in range(concurrency))
        )
    for part in parts:
        result.merge(part)
    steps = getattr(spec, "steps", None)
    if isinstance(steps, Steps):
        result.steps = steps.within(start_at, end_at)
    return result


def _client_process(spec: Scenario, concurrency: int, start_at: float, end_at: float) -> LoadResult:
    return asyncio.run(_client(spec, concurrency, start_at, end_at))


def _client_signals() -> None:
    """Client processes leave Ctrl-C to the parent, and die quietly when it terminates them
    (a forked child inherits the parent's SIGTERM handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_load(
    spec: Scenario,
    seconds: float,
    concurrency: int,
    processes: int,
    warmup: float,
    meter: CpuMeter,
) -> LoadResult:
    """Closed-loop load from ``processes`` client processes (the parent only waits and
    measures CPU at the window's edges). time.monotonic() is system-wide on Linux, so the
    window is the same in every process."""
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    start_at = time.monotonic() + START_SLACK_S + warmup
    end_at = start_at + seconds
    # fork, not spawn: spawn re-imports the caller's __main__, which may start another stack.
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes, initializer=_client_signals) as pool:
        pending = pool.starmap_async(
            _client_process,
            [(spec.part(i, processes), share, start_at, end_at) for i, share in enumerate(shares)],
        )
        meter.add("clients", [child.pid for child in multiprocessing.active_children()])
        time.sleep(max(0.0, start_at - time.monotonic()))
        meter.start()
        time.sleep(max(0.0, end_at - time.monotonic()))
        meter.stop()
        parts = pending.get(timeout=seconds + 120)
    total = LoadResult()
    for part in parts:
        total.merge(part)
    if total.late_start_s > 0:
        log(f"a client process started {total.late_start_s:.2f} s into the measured window")
    return total


def run_load_here(
    spec: Scenario, seconds: float, concurrency: int, warmup: float, meter: CpuMeter
) -> LoadResult:
    """:func:`run_load` from this process, for a scenario whose state the caller reads
    afterwards (what its requests returned). This process is then the load generator: its
    CPU is not in ``meter`` unless added."""

    async def measured() -> LoadResult:
        start_at = time.monotonic() + warmup
        end_at = start_at + seconds

        async def edges() -> None:
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            meter.start()
            await asyncio.sleep(max(0.0, end_at - time.monotonic()))
            meter.stop()

        edge = asyncio.create_task(edges())
        result = await _client(spec, concurrency, start_at, end_at)
        await edge
        return result

    return asyncio.run(measured())


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, ``q`` in (0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1
    return round(ordered[rank], 2)


def latency_summary(result: LoadResult) -> dict[str, float | None]:
    return {
        "p50": percentile(result.latencies_ms, 50),
        "p99": percentile(result.latencies_ms, 99),
        "max": percentile(result.latencies_ms, 100),
    }


def step_latencies(result: LoadResult) -> dict[str, dict[str, float | None]]:
    """:func:`latency_summary` of each step, with how many there were."""
    return {
        step: {
            "count": len(times),
            "p50": percentile(times, 50),
            "p99": percentile(times, 99),
            "max": percentile(times, 100),
        }
        for step, times in result.steps.items()
    }


def load_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The load's part of a report's parameters (:func:`base_parser`'s options)."""
    return {
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "client_processes": args.processes,
        "warmup_s": args.warmup,
    }


def throughput(
    noun: str, load: LoadResult, meter: CpuMeter, seconds: float
) -> tuple[dict[str, Any], float | None]:
    """A closed-loop benchmark's results, named after what it counts (``renewals``): how
    many, per second, latency, errors, the server's CPU, and how many per server CPU-second
    (returned too, for the target)."""
    server_cpu = meter.seconds.get("server", 0.0)
    per_core = round(load.ok / server_cpu, 1) if server_cpu > 0 else None
    return {
        noun: load.ok,
        f"{noun}_per_s": round(load.ok / seconds, 1),
        "latency_ms": latency_summary(load),
        "errors": load.errors,
        "error_samples": load.error_samples,
        "server_cpu_s": server_cpu,
        "server_cores_busy": round(server_cpu / seconds, 3),
        f"{noun}_per_server_core_s": per_core,
        "cpu_s_during_load": meter.seconds,
    }, per_core


# --------------------------------------------------------------------------- HTTP helpers


async def _login(stack: Stack) -> dict[str, Any]:
    body = {"practice": stack.practice, "username": stack.username, "password": stack.password}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.base_url}/v1/login", json=body) as resp,
    ):
        data: dict[str, Any] = await resp.json()
        if resp.status != 200 or data.get("next") != "done" or not _dig(data, "token.token"):
            raise RuntimeError(f"login failed: HTTP {resp.status} {data}")
        return data


def login_once(stack: Stack) -> dict[str, Any]:
    """One password login; the bootstrapped practice is password-only, so it is complete."""
    return asyncio.run(_login(stack))


# --------------------------------------------------------------------------- report


def target(actual: float | None, goal: float, at_least: bool) -> dict[str, Any]:
    met = actual is not None and (actual >= goal if at_least else actual <= goal)
    return {"target": f"{'>=' if at_least else '<='} {goal:g}", "actual": actual, "met": met}


def revision() -> dict[str, Any]:
    """The commit measured, and whether tracked files differed from it."""
    git = shutil.which("git")
    root = Path(__file__).resolve().parent.parent
    if git is None:
        return {}
    try:
        commit = _git(git, root, "rev-parse", "--short", "HEAD")
        dirty = bool(_git(git, root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "dirty": dirty}


def _git(git: str, root: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [git, *args], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def report(
    name: str,
    parameters: dict[str, Any],
    results: dict[str, Any],
    server: dict[str, Any],
    targets: dict[str, Any],
    note: str = NOTE,
) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "parameters": parameters,
                "results": results,
                "server": server,
                "revision": revision(),
                "python": platform.python_version(),
                "cpu_count": os.cpu_count(),
                "targets": targets,
                "note": note,
            },
            indent=2,
        ),
        flush=True,
    )
