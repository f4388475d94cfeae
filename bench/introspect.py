"""``tweestap bench introspect``: RFC 7662 introspections per second against one auth server,
and per CPU-second of that server, by a registered relying service (HTTP Basic) asking about
a live session token. The same JSON shape as ``tweestap bench renew``."""

from __future__ import annotations

import asyncio
import base64
import json
import time

from bench.harness import (
    RequestSpec,
    auth_stack,
    base_parser,
    ensure_alive,
    latency_summary,
    log,
    login_once,
    report,
    rss_mb,
    run_load,
    stack_meter,
    target,
)
from services.auth.client_command import open_clients
from services.auth.settings import AuthSettings

INTROSPECTIONS_PER_CORE_S = 3000.0
IDLE_RSS_MB = 100.0
CLIENT_ID = "bench-relying-service"


async def _register(settings: AuthSettings) -> str:
    """A relying service, registered the way ``tweestap client add`` does; its secret."""
    async with open_clients(settings) as clients:
        return await clients.add(CLIENT_ID, "Bench relying service")


def main(argv: list[str]) -> int:
    args = base_parser("introspect", __doc__ or "").parse_args(argv)
    with auth_stack() as stack:
        time.sleep(1.0)
        rss_idle = rss_mb(stack.server.pid)
        token = login_once(stack)["token"]["token"]
        secret = asyncio.run(_register(stack.settings))
        basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
        log(f"introspect load: {args.seconds:g} s, concurrency {args.concurrency}")
        spec = RequestSpec(
            "POST",
            f"{stack.base_url}/v1/tokens/introspect",
            json.dumps({"token": token}).encode(),
            {"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
            expect="active",
        )
        meter = stack_meter(stack)
        load = run_load(spec, args.seconds, args.concurrency, args.processes, args.warmup, meter)
        ensure_alive(stack)
        rss_after = rss_mb(stack.server.pid)
    rate = load.ok / args.seconds
    server_cpu = meter.seconds.get("server", 0.0)
    per_core = round(load.ok / server_cpu, 1) if server_cpu > 0 else None
    report(
        "introspect",
        {
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "client_processes": args.processes,
            "warmup_s": args.warmup,
        },
        {
            "introspections": load.ok,
            "introspections_per_s": round(rate, 1),
            "latency_ms": latency_summary(load),
            "errors": load.errors,
            "error_samples": load.error_samples,
            "server_cpu_s": server_cpu,
            "server_cores_busy": round(server_cpu / args.seconds, 3),
            "introspections_per_server_core_s": per_core,
            "cpu_s_during_load": meter.seconds,
        },
        {"rss_idle_mb": rss_idle, "rss_after_mb": rss_after},
        {
            "introspections_per_server_core_s": target(
                per_core, INTROSPECTIONS_PER_CORE_S, at_least=True
            ),
            "idle_rss_mb": target(rss_idle, IDLE_RSS_MB, at_least=False),
        },
    )
    return 0
