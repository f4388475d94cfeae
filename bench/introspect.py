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
    load_parameters,
    log,
    login_once,
    report,
    rss_mb,
    run_load,
    stack_meter,
    target,
    throughput,
)
from services.auth.commands import open_clients
from services.auth.settings import AuthSettings

INTROSPECTIONS_PER_CORE_S = 3000.0
IDLE_RSS_MB = 100.0
CLIENT_ID = "bench-relying-service"


async def _register(settings: AuthSettings) -> str:
    """A relying service, registered the way ``tweestap client add`` does; its secret."""
    async with open_clients(settings) as clients:
        return await clients.add(CLIENT_ID, "Bench relying service")


def relying_service(settings: AuthSettings) -> str:
    """Register the bench's relying service; its ``Authorization`` header (HTTP Basic)."""
    secret = asyncio.run(_register(settings))
    return f"Basic {base64.b64encode(f'{CLIENT_ID}:{secret}'.encode()).decode()}"


def main(argv: list[str]) -> int:
    args = base_parser("introspect", __doc__ or "").parse_args(argv)
    with auth_stack() as stack:
        time.sleep(1.0)
        rss_idle = rss_mb(stack.server.pid)
        token = login_once(stack)["token"]["token"]
        basic = relying_service(stack.settings)
        log(f"introspect load: {args.seconds:g} s, concurrency {args.concurrency}")
        spec = RequestSpec(
            "POST",
            f"{stack.base_url}/v1/tokens/introspect",
            json.dumps({"token": token}).encode(),
            {"Authorization": basic, "Content-Type": "application/json"},
            expect="active",
        )
        meter = stack_meter(stack)
        load = run_load(spec, args.seconds, args.concurrency, args.processes, args.warmup, meter)
        ensure_alive(stack)
        rss_after = rss_mb(stack.server.pid)
    results, per_core = throughput("introspections", load, meter, args.seconds)
    report(
        "introspect",
        load_parameters(args),
        results,
        {"rss_idle_mb": rss_idle, "rss_after_mb": rss_after},
        {
            "introspections_per_server_core_s": target(
                per_core, INTROSPECTIONS_PER_CORE_S, at_least=True
            ),
            "idle_rss_mb": target(rss_idle, IDLE_RSS_MB, at_least=False),
        },
    )
    return 0
