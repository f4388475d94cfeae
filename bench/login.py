"""``tweestap bench login``: complete two-factor logins per second (password, then TOTP →
token) against one auth server, compared with the raw argon2id verify rate of this machine at
the same parameters (argon2 is the floor cost of a login, so the ratio shows how much the rest
of the request path costs), and what TOTP verification adds.

The practice requires two factors. Each time step of a TOTP code is accepted once per
employee, so the load logs in many employees (``--users``), each with its own secret; a client
uses a step of an employee at most once and moves on to the next employee."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
import asyncpg
from pydantic import BaseModel

from bench.harness import (
    READY_TIMEOUT_S,
    Stack,
    argon2id,
    auth_stack,
    base_parser,
    ensure_alive,
    latency_summary,
    log,
    per_login_ms,
    report,
    request_json,
    rss_mb,
    run_load,
    stack_meter,
    target,
    thread_niceness,
)
from bench.login_floor import run_floor
from bench.probe import IntrospectionProbe
from services.auth.settings import AuthSettings
from shared import otp
from shared.db import create_pool
from shared.events import (
    EmployeeUpserted,
    Envelope,
    FactorCredential,
    PasswordCredential,
    PracticeUpserted,
    credential_aad,
    factor_aad,
    utcnow,
)
from shared.outbox import publish
from shared.sealing import Keyring
from shared.topics import AUTH_CREDENTIALS, DIRECTORY_EMPLOYEES, DIRECTORY_PRACTICES, FACTORS

LOGIN_VS_ARGON2 = 0.9
IDLE_RSS_MB = 100.0
TOTP_ADDS_MS = 1.0
JSON = {"Content-Type": "application/json"}


# --------------------------------------------------------------------------- setup


#: The bench practice's version once it has its employees (bootstrapping made version 1) and
#: once it requires two factors after that (:func:`require_two_factors`).
EMPLOYEES_VERSION, TWO_FACTOR_VERSION = 2, 3


async def two_factor_practice(
    stack: Stack, users: int, two_factor_required: bool = True
) -> list[tuple[str, str]]:
    """Give the bench practice ``users`` employees, each with the bench password and an
    enrolled authenticator, published through the server's outbox the way the enrolment
    service would, and switch it to two factors (``two_factor_required``: else the password
    alone completes their logins, until :func:`require_two_factors`). Returns (username,
    secret) pairs."""
    pool = await create_pool(stack.settings.database_url, 1, 1)
    try:
        async with pool.acquire() as conn:
            pairs = await _publish_all(conn, stack, users, two_factor_required)
            await _wait_materialised(conn, stack.practice, users, two_factor_required)
    finally:
        await pool.close()
    log(f"{users} employees with an authenticator materialised")
    return pairs


async def require_two_factors(stack: Stack, users: int) -> None:
    """Switch the bench practice, given its employees, to two factors."""
    pool = await create_pool(stack.settings.database_url, 1, 1)
    try:
        async with pool.acquire() as conn:
            now = utcnow()
            envelope = _practice_event(stack.practice, True, TWO_FACTOR_VERSION, now)
            await publish(conn, stack.settings, DIRECTORY_PRACTICES, envelope)
            await _wait_materialised(conn, stack.practice, users, True)
    finally:
        await pool.close()
    log("the practice requires two factors")


def _practice_event(practice: str, two_factor: bool, version: int, now: datetime) -> Envelope:
    body = PracticeUpserted(
        name="Bench Fysio",
        email="praktijk@bench.example",
        two_factor_required=two_factor,
        version=version,
        updated_at=now,
        zone="a",
    )
    return Envelope(
        type="practice.upserted",
        source="bench@a",
        time=now,
        practice=practice,
        subject=practice,
        data=body.model_dump(mode="json"),
    )


async def _publish_all(
    conn: asyncpg.Connection, stack: Stack, users: int, two_factor_required: bool
) -> list[tuple[str, str]]:
    settings, practice = stack.settings, stack.practice
    keyring = Keyring.parse(settings.sealing_keys.get_secret_value())
    now = utcnow()
    # Every employee has the same password (the argon2 work per login is the same).
    hashed = argon2id(settings).hash(stack.password)

    def event(type_: str, subject: str, data: BaseModel) -> Envelope:
        return Envelope(
            type=type_,
            source="bench@a",
            time=now,
            practice=practice,
            subject=subject,
            data=data.model_dump(mode="json"),
        )

    def sealed(body: dict[str, str | list[str]], aad: str) -> str:
        return keyring.seal(json.dumps(body).encode(), aad)

    pairs: list[tuple[str, str]] = []
    async with conn.transaction():
        switch = _practice_event(practice, two_factor_required, EMPLOYEES_VERSION, now)
        await publish(conn, settings, DIRECTORY_PRACTICES, switch)
        for i in range(users):
            employee, username, secret = f"u{i:05d}", f"user{i:05d}", otp.new_secret()
            pairs.append((username, secret))
            factor = f"t.{employee}"
            person = EmployeeUpserted(
                employee=employee,
                username=username,
                name=f"Bench User {i}",
                rights_group=2,
                version=1,
                updated_at=now,
                zone="a",
            )
            credential = PasswordCredential(
                employee=employee,
                sealed=sealed({"hash": hashed, "history": []}, credential_aad(practice, employee)),
                changed_at=now,
                must_change=False,
                strength=100,
                version=1,
                updated_at=now,
                zone="a",
            )
            totp = FactorCredential(
                factor=factor,
                employee=employee,
                kind="totp",
                sealed=sealed({"secret": secret}, factor_aad(practice, employee, factor)),
                active=True,
                created_at=now,
                version=1,
                updated_at=now,
                zone="a",
            )
            for topic, envelope in (
                (DIRECTORY_EMPLOYEES, event("employee.upserted", employee, person)),
                (AUTH_CREDENTIALS, event("credential.password", employee, credential)),
                (FACTORS, event("factor.credential", factor, totp)),
            ):
                await publish(conn, settings, topic, envelope)
    return pairs


async def _wait_materialised(
    conn: asyncpg.Connection, practice: str, users: int, two_factor_required: bool
) -> None:
    """Until the server has every employee, their credential and authenticator, and the
    switch. Each arrives on its own topic (``directory.employees``, ``auth.credentials``,
    ``factors``), in any order: a login needs all three (an employee not yet materialised
    answers 401, which the sanity check once met)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while (
        await conn.fetchval(
            "SELECT count(*) FROM factors f JOIN credentials c "
            "ON c.practice = f.practice AND c.employee = f.employee "
            "JOIN employees e ON e.practice = f.practice AND e.id = f.employee "
            "WHERE f.practice = $1 AND f.active",
            practice,
        )
        < users
        or await conn.fetchval("SELECT two_factor_required FROM practices WHERE id = $1", practice)
        is not two_factor_required
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("employees and factors not materialised")
        await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- the load


@dataclass
class TotpSteps:
    """Employees taken in turn, each with a TOTP time step not used before: each (employee,
    time step) is used once, as the server accepts it once."""

    users: list[tuple[str, str]]
    _queue: collections.deque[tuple[str, str]] = field(default_factory=collections.deque)
    _used: dict[str, set[int]] = field(default_factory=dict)

    def next(self) -> tuple[str, str, int] | None:
        """(username, secret, time step), or None when every employee has used both steps
        a code may have now."""
        if not self._queue:
            self._queue.extend(self.users)
        for _ in range(len(self._queue)):
            username, secret = self._queue.popleft()
            self._queue.append((username, secret))
            # Not the previous step: it may be out of the window by the time the code arrives.
            now = otp.time_step(utcnow() + timedelta(seconds=1))
            used = self._used.setdefault(username, set())
            for step in (now, now + 1):
                if step not in used:
                    used.add(step)
                    return username, secret, step
        return None


@dataclass
class TwoStepLogin:
    """Password step, then the TOTP step, for employees taken in turn (:class:`TotpSteps`).
    Codes are computed in the client (the server's work is measured)."""

    base_url: str
    practice: str
    password: str
    users: list[tuple[str, str]]
    _steps: TotpSteps = field(init=False)

    def __post_init__(self) -> None:
        self._steps = TotpSteps(self.users)

    def part(self, index: int, count: int) -> TwoStepLogin:
        return TwoStepLogin(self.base_url, self.practice, self.password, self.users[index::count])

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        chosen = self._steps.next()
        if chosen is None:
            await asyncio.sleep(0.05)
            return "no unused time step left: raise --users"
        username, secret, step = chosen
        body = {"practice": self.practice, "username": username, "password": self.password}
        data, failure = await request_json(
            session,
            "POST",
            f"{self.base_url}/v1/login",
            json.dumps(body).encode(),
            JSON,
            "login_id",
        )
        if failure or data is None:
            return failure
        if data.get("next") != "second_factor":
            return f"unexpected next step {data.get('next')!r}"
        code = {"factor": "totp", "code": otp.totp_at_step(secret, step)}
        _, failure = await request_json(
            session,
            "POST",
            f"{self.base_url}/v1/login/{data['login_id']}/verify",
            json.dumps(code).encode(),
            JSON,
            "token",
        )
        return failure


@dataclass
class PasswordOnlyLogin:
    """``--password-only``: the password step of a practice that requires no second factor,
    until the token, for employees taken in turn."""

    base_url: str
    practice: str
    password: str
    users: list[tuple[str, str]]
    _next: int = 0

    def part(self, index: int, count: int) -> PasswordOnlyLogin:
        return PasswordOnlyLogin(
            self.base_url, self.practice, self.password, self.users[index::count]
        )

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        username, _ = self.users[self._next % len(self.users)]
        self._next += 1
        body = {"practice": self.practice, "username": username, "password": self.password}
        _, failure = await request_json(
            session, "POST", f"{self.base_url}/v1/login", json.dumps(body).encode(), JSON, "token"
        )
        return failure


def totp_check_us(rounds: int = 2000) -> float:
    """Microseconds one TOTP check (±1 step, as the server does it) takes in this process."""
    secret = otp.new_secret()
    now = utcnow()
    code = otp.totp_at_step(secret, otp.time_step(now) + 1)
    started = time.perf_counter()
    for _ in range(rounds):
        otp.match_totp(secret, code, now)
    return round((time.perf_counter() - started) / rounds * 1e6, 1)


def _metrics_text(ops_url: str) -> str:
    with urllib.request.urlopen(f"{ops_url}/metrics", timeout=5) as resp:  # noqa: S310
        return str(resp.read().decode())


def server_counter(ops_url: str, name: str, labels: str = "") -> float:
    """A server counter from /metrics, summed over the label sets that contain ``labels``."""
    total = 0.0
    for line in _metrics_text(ops_url).splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? ([0-9.eE+-]+)$", line)
        if match and labels in (match.group(1) or ""):
            total += float(match.group(2))
    return total


@dataclass
class HashShare:
    """The server's own account of a login's CPU: argon2id on the hashing threads (thread
    time, ``tweestap_argon2_cpu_seconds_total``) and the rest, per successful password step.
    Under load argon2 costs more than on a quiet machine (its 19 MiB contend for the memory
    bus): this split shows what the request path itself costs."""

    hash_cpu_s: float
    logins: float

    @classmethod
    def read(cls, ops_url: str) -> HashShare:
        return cls(
            server_counter(ops_url, "tweestap_argon2_cpu_seconds_total"),
            server_counter(ops_url, "tweestap_logins_total", 'outcome="success"'),
        )

    def per_login_ms(self, before: HashShare) -> float | None:
        logins, hashing = self.logins - before.logins, self.hash_cpu_s - before.hash_cpu_s
        # A server without the counter (before issue 14) cannot tell: None.
        return round(hashing / logins * 1000, 2) if logins and hashing else None


def server_histogram_mean_ms(ops_url: str, name: str) -> float | None:
    """Mean of a server histogram from /metrics (sum / count over every label set)."""
    text = _metrics_text(ops_url)
    total = count = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}_(sum|count)(?:{{.*}})? ([0-9.eE+-]+)$", line)
        if match:
            if match.group(1) == "sum":
                total += float(match.group(2))
            else:
                count += float(match.group(2))
    return round(total / count * 1000, 4) if count else None


def raw_verify(settings: AuthSettings, seconds: float, threads: int) -> tuple[int, float]:
    """argon2id verifications done with ``threads`` threads (argon2-cffi releases the GIL),
    the way the server's hasher runs them, and the seconds they took."""
    ph = argon2id(settings)
    hashed = ph.hash("correct horse battery staple")
    deadline = time.monotonic() + seconds

    def spin() -> int:
        count = 0
        while time.monotonic() < deadline:
            ph.verify(hashed, "correct horse battery staple")
            count += 1
        return count

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: spin(), range(threads)))
    return total, time.monotonic() - started


@dataclass
class RawArgon2:
    per_s: float
    per_cpu_s: float
    cpu_s: dict[str, float]
    #: For a mean: the runs it is made of, in CPU milliseconds per verification.
    runs_cpu_ms: tuple[float, ...] = ()

    @classmethod
    def mean(cls, *runs: RawArgon2) -> RawArgon2:
        """The runs' mean rates; ``cpu_s`` added up."""
        cpu: dict[str, float] = {}
        for run in runs:
            for name, seconds in run.cpu_s.items():
                cpu[name] = cpu.get(name, 0.0) + seconds
        return cls(
            sum(r.per_s for r in runs) / len(runs),
            sum(r.per_cpu_s for r in runs) / len(runs),
            {k: round(v, 3) for k, v in cpu.items()},
            tuple(round(1000 / r.per_cpu_s, 2) for r in runs if r.per_cpu_s),
        )


def measure_raw(stack: Stack, seconds: float, threads: int) -> RawArgon2:
    """Raw verifications per second and per CPU-second, with the CPU the (idle) stack and the
    rest of the machine used meanwhile."""
    log(f"raw argon2id verify, {threads} threads, {seconds:g} s (server idle)")
    meter = stack_meter(stack, bench=[os.getpid()])
    meter.start()
    count, elapsed = raw_verify(stack.settings, seconds, threads)
    cpu = meter.stop()
    return RawArgon2(count / elapsed, count / max(cpu["bench"], 1e-9), cpu)


async def _check_once(scenario: TwoStepLogin | PasswordOnlyLogin) -> str | None:
    async with aiohttp.ClientSession() as session:
        return await scenario.once(session)


def main(argv: list[str]) -> int:
    parser = base_parser("login", __doc__ or "")
    parser.add_argument("--argon2-seconds", type=float, default=5.0, help="raw argon2 run")
    parser.add_argument(
        "--users", type=int, default=1000, help="employees (each TOTP step is used once)"
    )
    parser.add_argument(
        "--probe",
        type=float,
        default=0.0,
        metavar="RATE",
        help="also introspect a live token RATE times a second during the load, and report "
        "its latency (its CPU is in the server's)",
    )
    parser.add_argument(
        "--password-only",
        action="store_true",
        help="a practice without two factors: the password step until the token",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="then the same load against a bare aiohttp server that does only what a password "
        "login cannot do without (bench/login_floor_server.py): the platform's share; needs "
        "--password-only",
    )
    args = parser.parse_args(argv)
    if args.floor and not args.password_only:
        parser.error("--floor measures the password step: give --password-only too")
    threads = os.cpu_count() or 1
    kind = PasswordOnlyLogin if args.password_only else TwoStepLogin
    with auth_stack() as stack:
        time.sleep(1.0)
        rss_idle = rss_mb(stack.server.pid)
        users = asyncio.run(two_factor_practice(stack, args.users, not args.password_only))
        # One login end to end before measuring, with an employee the load does not use.
        check = asyncio.run(
            _check_once(kind(stack.base_url, stack.practice, stack.password, users[-1:]))
        )
        if check is not None:
            raise RuntimeError(f"login failed: {check}")
        scenario = kind(stack.base_url, stack.practice, stack.password, users[:-1])
        raw_before = measure_raw(stack, args.argon2_seconds, threads)
        probe = (
            IntrospectionProbe(stack, args.probe, args.seconds, args.warmup) if args.probe else None
        )
        log(f"login load: {args.seconds:g} s, concurrency {args.concurrency}")
        meter = stack_meter(stack)
        hashed_before = HashShare.read(stack.ops_url)
        if probe is not None:
            probe.start()
        load = run_load(
            scenario, args.seconds, args.concurrency, args.processes, args.warmup, meter
        )
        probed = probe.result() if probe is not None else None
        niceness = thread_niceness(stack.server.pid)
        ensure_alive(stack)
        argon2_ms = HashShare.read(stack.ops_url).per_login_ms(hashed_before)
        # Raw argon2id drifts with the machine over a run (±10 % seen between runs of the same
        # code): measured before and after the load, the ratio is against their mean.
        raw_after = measure_raw(stack, args.argon2_seconds, threads)
        raw = RawArgon2.mean(raw_before, raw_after)
        rss_after = rss_mb(stack.server.pid)
        totp_server_ms = server_histogram_mean_ms(stack.ops_url, "tweestap_totp_verify_seconds")
        floor = (
            run_floor(
                stack,
                [name for name, _ in users[:-1]],
                lambda url: PasswordOnlyLogin(url, stack.practice, stack.password, users[:-1]),
                args,
            )
            if args.floor
            else None
        )
    totp_us = totp_check_us()
    rate = load.ok / args.seconds
    ratio = round(rate / raw.per_s, 3) if raw.per_s else None
    server_cpu = meter.seconds.get("server", 0.0)
    per_server_cpu = load.ok / server_cpu if server_cpu else 0.0
    per_cpu_ratio = round(per_server_cpu / raw.per_cpu_s, 3) if raw.per_cpu_s else None
    # argon2id's share of the server's own CPU per login: the per-CPU-second ratio with
    # argon2 costed as the server paid it in the same run (under load it costs more than in
    # the quiet raw run, which moves the ratio above with the neighbours' load).
    if floor is not None:
        floor_per_cpu = floor["logins_per_server_cpu_s"]
        floor["logins_vs_raw_argon2_per_cpu_s"] = (
            round(floor_per_cpu / raw.per_cpu_s, 3) if floor_per_cpu and raw.per_cpu_s else None
        )
        floor["tweestap_vs_floor_per_server_cpu_s"] = (
            round(per_server_cpu / floor_per_cpu, 3) if floor_per_cpu else None
        )
    argon2_share = (
        round(argon2_ms * per_server_cpu / 1000, 3) if argon2_ms and per_server_cpu else None
    )
    report(
        "login",
        {
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "client_processes": args.processes,
            "warmup_s": args.warmup,
            "argon2": {
                "memory_kib": stack.settings.argon2_memory_kib,
                "time_cost": stack.settings.argon2_time_cost,
                "parallelism": stack.settings.argon2_parallelism,
            },
            "argon2_raw_seconds": args.argon2_seconds,
            "argon2_raw_runs": "before and after the load, the ratio against their mean",
            "argon2_raw_threads": threads,
            "users": args.users,
            "login": (
                "password until the token"
                if args.password_only
                else "password, then TOTP, until the token"
            ),
        },
        {
            "logins": load.ok,
            "logins_per_s": round(rate, 2),
            "latency_ms": latency_summary(load),
            "errors": load.errors,
            "error_samples": load.error_samples,
            "raw_argon2_verify_per_s": round(raw.per_s, 2),
            "logins_vs_raw_argon2": ratio,
            # Per CPU-second: what one core of the server does, against one core of argon2.
            "logins_per_server_cpu_s": round(per_server_cpu, 2),
            "raw_argon2_verify_per_cpu_s": round(raw.per_cpu_s, 2),
            "logins_vs_raw_argon2_per_cpu_s": per_cpu_ratio,
            "cpu_s_during_load": meter.seconds,
            "cpu_s_during_raw_argon2": raw.cpu_s,
            # The server's CPU per login, split: argon2id on its hashing threads, and the rest.
            "server_cpu_ms_per_login": round(1000 / per_server_cpu, 2) if per_server_cpu else None,
            "server_argon2_cpu_ms_per_login": argon2_ms,
            "server_other_cpu_ms_per_login": (
                round(1000 / per_server_cpu - argon2_ms, 2)
                if per_server_cpu and argon2_ms is not None
                else None
            ),
            "raw_argon2_cpu_ms": round(1000 / raw.per_cpu_s, 2) if raw.per_cpu_s else None,
            "raw_argon2_cpu_ms_before_and_after": raw.runs_cpu_ms,
            # Exact, per thread: the event loop (requests, database, broker, consumers) and the
            # other threads (argon2id's hashing pool, each hash with its hand-off).
            "server_event_loop_cpu_ms_per_login": per_login_ms(meter.threads, 0, load.ok),
            "server_other_threads_cpu_ms_per_login": per_login_ms(meter.threads, 1, load.ok),
            "server_argon2_share_of_cpu": argon2_share,
            # Server: the TOTP check inside the verify request (tweestap_totp_verify_seconds).
            "totp_verify_server_mean_ms": totp_server_ms,
            "totp_check_in_process_us": totp_us,
            # How many of the server's threads run at each niceness (the hashing threads run
            # TWEESTAP_HASH_NICENESS below the event loop), and, with --probe, introspection's
            # latency beside the logins.
            "server_threads_by_niceness": niceness,
            "introspection_beside_logins": probed,
            # With --floor: the same load against a bare login server (HTTP, one read of the
            # hash, argon2id below the loop, one session row, the signature), against the same
            # raw argon2id: what the platform leaves of the goal.
            "floor": floor,
        },
        {"rss_idle_mb": rss_idle, "rss_after_mb": rss_after},
        {
            # Issue 27's goal is per CPU-second; the wall-clock ratio (logins/s against raw
            # verifies/s) also pays for PostgreSQL, the broker and the load generator on the
            # same 2 cores, and is kept as it was judged before.
            "login_vs_raw_argon2": target(ratio, LOGIN_VS_ARGON2, at_least=True),
            "login_vs_raw_argon2_per_cpu_s": target(per_cpu_ratio, LOGIN_VS_ARGON2, at_least=True),
            "idle_rss_mb": target(rss_idle, IDLE_RSS_MB, at_least=False),
            "totp_adds_ms": target(totp_server_ms, TOTP_ADDS_MS, at_least=False),
        },
    )
    return 0
