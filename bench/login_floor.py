"""``tweestap bench login --floor``: the same password-login load against the bare login server
(bench/login_floor_server.py), with the same employees, password, argon2id parameters and
hashing threads, against the stack's own PostgreSQL; measured as the stack is."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import urllib.request
from collections.abc import Callable
from subprocess import Popen
from typing import Any

import asyncpg

from bench.harness import (
    CpuMeter,
    Scenario,
    Stack,
    argon2id,
    floor_server,
    latency_summary,
    log,
    per_login_ms,
    run_load,
)
from services.auth.settings import AuthSettings
from services.dev.infra import free_port

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench_floor;
CREATE TABLE IF NOT EXISTS bench_floor.credentials (
    practice text NOT NULL, username text NOT NULL, hash text NOT NULL,
    PRIMARY KEY (practice, username)
);
CREATE TABLE IF NOT EXISTS bench_floor.sessions (
    id text PRIMARY KEY, practice text NOT NULL, username text NOT NULL,
    started_at timestamptz NOT NULL
);
TRUNCATE bench_floor.credentials, bench_floor.sessions;
"""


async def prepare(dsn: str, practice: str, usernames: list[str], hashed: str) -> None:
    """The floor's tables in the ``bench_floor`` schema of ``dsn``, with ``usernames`` of
    ``practice`` all holding ``hashed``."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_SCHEMA)
        await conn.copy_records_to_table(
            "credentials",
            schema_name="bench_floor",
            records=[(practice, name, hashed) for name in usernames],
        )
    finally:
        await conn.close()


def environment(settings: AuthSettings) -> dict[str, str]:
    """The floor server's configuration: auth's database, argon2id parameters and hashing
    threads (as many, and as far below the loop, as auth's)."""
    return {
        "FLOOR_DSN": settings.database_url,
        "FLOOR_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "FLOOR_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "FLOOR_ARGON2_PARALLELISM": str(settings.argon2_parallelism),
        "FLOOR_HASH_WORKERS": str(settings.hash_workers or os.cpu_count() or 2),
        "FLOOR_HASH_NICENESS": str(settings.hash_niceness),
    }


def serving(port: int, env: dict[str, str]) -> contextlib.AbstractContextManager[Popen[bytes]]:
    """The floor server on ``port``, once it answers."""
    ready = f"http://127.0.0.1:{port}/ready"
    return floor_server("bench.login_floor_server", port, lambda: _ready(ready), env)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local
            return bool(response.status == 200)
    except OSError:
        return False


def run_floor(
    stack: Stack,
    usernames: list[str],
    scenario_at: Callable[[str], Scenario],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The load of ``scenario_at(base URL)`` against the floor server: logins, per server
    CPU-second, and its event loop's and hashing threads' CPU per login."""
    settings = stack.settings
    hashed = argon2id(settings).hash(stack.password)
    asyncio.run(prepare(settings.database_url, stack.practice, usernames, hashed))
    port = free_port()
    with serving(port, environment(settings)) as server:
        log(f"floor load: {args.seconds:g} s, concurrency {args.concurrency}")
        meter = CpuMeter(
            {"server": [server.pid], "postgres": [stack.postgres_pid]},
            trees=frozenset({"postgres"}),
            threads_of=server.pid,
        )
        scenario = scenario_at(f"http://127.0.0.1:{port}")
        load = run_load(
            scenario, args.seconds, args.concurrency, args.processes, args.warmup, meter
        )
    server_cpu = meter.seconds.get("server", 0.0)
    return {
        "logins": load.ok,
        "logins_per_s": round(load.ok / args.seconds, 2),
        "latency_ms": latency_summary(load),
        "errors": load.errors,
        "error_samples": load.error_samples,
        "logins_per_server_cpu_s": round(load.ok / server_cpu, 2) if server_cpu else None,
        "server_event_loop_cpu_ms_per_login": per_login_ms(meter.threads, 0, load.ok),
        "server_other_threads_cpu_ms_per_login": per_login_ms(meter.threads, 1, load.ok),
        "cpu_s_during_load": meter.seconds,
    }
