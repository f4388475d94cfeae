"""``tweestap bench login``: password logins per second against one auth server, compared with
the raw argon2id verify rate of this machine at the same parameters (argon2 is the floor cost
of a login, so the ratio shows how much the rest of the request path costs)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher, Type

from bench.harness import (
    RequestSpec,
    Stack,
    auth_stack,
    base_parser,
    ensure_alive,
    latency_summary,
    log,
    login_body,
    login_once,
    report,
    rss_mb,
    run_load,
    stack_meter,
    target,
)
from services.auth.settings import AuthSettings

LOGIN_VS_ARGON2 = 0.9
IDLE_RSS_MB = 100.0


def raw_verify(settings: AuthSettings, seconds: float, threads: int) -> tuple[int, float]:
    """argon2id verifications done with ``threads`` threads (argon2-cffi releases the GIL),
    the way the server's hasher runs them, and the seconds they took."""
    ph = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )
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


def measure_raw(stack: Stack, seconds: float, threads: int) -> RawArgon2:
    """Raw verifications per second and per CPU-second, with the CPU the (idle) stack and the
    rest of the machine used meanwhile."""
    log(f"raw argon2id verify, {threads} threads, {seconds:g} s (server idle)")
    meter = stack_meter(stack, bench=[os.getpid()])
    meter.start()
    count, elapsed = raw_verify(stack.settings, seconds, threads)
    cpu = meter.stop()
    return RawArgon2(count / elapsed, count / max(cpu["bench"], 1e-9), cpu)


def main(argv: list[str]) -> int:
    parser = base_parser("login", __doc__ or "")
    parser.add_argument("--argon2-seconds", type=float, default=5.0, help="raw argon2 run")
    args = parser.parse_args(argv)
    threads = os.cpu_count() or 1
    with auth_stack() as stack:
        time.sleep(1.0)
        rss_idle = rss_mb(stack.server.pid)
        login_once(stack)  # checks the setup before measuring anything
        raw = measure_raw(stack, args.argon2_seconds, threads)
        log(f"login load: {args.seconds:g} s, concurrency {args.concurrency}")
        spec = RequestSpec(
            "POST",
            f"{stack.base_url}/v1/login",
            login_body(stack),
            {"Content-Type": "application/json"},
            expect="token.token",
        )
        meter = stack_meter(stack)
        load = run_load(spec, args.seconds, args.concurrency, args.processes, args.warmup, meter)
        ensure_alive(stack)
        rss_after = rss_mb(stack.server.pid)
    rate = load.ok / args.seconds
    ratio = round(rate / raw.per_s, 3) if raw.per_s else None
    server_cpu = meter.seconds.get("server", 0.0)
    per_server_cpu = load.ok / server_cpu if server_cpu else 0.0
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
            "argon2_raw_threads": threads,
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
            "logins_vs_raw_argon2_per_cpu_s": round(per_server_cpu / raw.per_cpu_s, 3),
            "cpu_s_during_load": meter.seconds,
            "cpu_s_during_raw_argon2": raw.cpu_s,
        },
        {"rss_idle_mb": rss_idle, "rss_after_mb": rss_after},
        {
            "login_vs_raw_argon2": target(ratio, LOGIN_VS_ARGON2, at_least=True),
            "idle_rss_mb": target(rss_idle, IDLE_RSS_MB, at_least=False),
        },
    )
    return 0
