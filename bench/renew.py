"""``tweestap bench renew``: sliding-window token renewals per second against one auth server,
and per CPU-second of that server (the fair per-core figure: the load generator, PostgreSQL and
the broker run on the same machine).

Each renewal presents the token the previous one returned, as a client does (``--same-token``:
the first token every time, how this bench measured before issue 14), so the server never
sees the same token twice and nothing it may remember per token flatters the figure."""

from __future__ import annotations

import argparse
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.harness import (
    CpuMeter,
    RequestSpec,
    Scenario,
    add_workers_argument,
    auth_stack,
    base_parser,
    ensure_alive,
    floor_server,
    load_parameters,
    log,
    login_once,
    process_rss_mb,
    report,
    request_json,
    run_load,
    server_rss,
    stack_meter,
    target,
    throughput,
)
from services.dev.infra import free_port

RENEWALS_PER_CORE_S = 1500.0
IDLE_RSS_MB = 100.0


@dataclass
class ChainedRenewal:
    """Renew with the latest token of the session (shared by the client's workers)."""

    url: str
    token: str

    async def once(self, session: aiohttp.ClientSession) -> str | None:
        headers = {"Authorization": f"Bearer {self.token}"}
        data, failure = await request_json(session, "POST", self.url, None, headers, "token")
        if data is not None:
            self.token = data["token"]
        return failure

    def part(self, index: int, count: int) -> ChainedRenewal:
        return ChainedRenewal(self.url, self.token)


def run_floor(args: argparse.Namespace) -> tuple[dict[str, Any], float | None]:
    """The same load against ``bench/floor_server.py`` (its own process), measured the same."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/tokens/renew"
    with floor_server("bench.floor_server", port, lambda: _answers(url)) as server:
        log(f"floor load: {args.seconds:g} s, concurrency {args.concurrency}")
        spec = RequestSpec("POST", url, None, {"Authorization": "Bearer floor"}, "token")
        meter = CpuMeter({"server": [server.pid]})
        load = run_load(spec, args.seconds, args.concurrency, args.processes, args.warmup, meter)
        return throughput("renewals", load, meter, args.seconds)


def _answers(url: str) -> bool:
    headers = {"Authorization": "Bearer x"}
    request = urllib.request.Request(url, method="POST", headers=headers)  # noqa: S310 - local
    try:
        with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310 - local
            return bool(response.status == 200)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    parser = base_parser("renew", __doc__ or "")
    parser.add_argument(
        "--same-token", action="store_true", help="renew the first token every time"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="then the same load against a bare aiohttp server that signs the same claims "
        "(bench/floor_server.py): the platform's share",
    )
    add_workers_argument(parser)
    args = parser.parse_args(argv)
    with auth_stack(args.workers) as stack:
        time.sleep(1.0)
        rss_idle = process_rss_mb(stack)
        token = login_once(stack)["token"]["token"]
        log(f"renew load: {args.seconds:g} s, concurrency {args.concurrency}")
        url = f"{stack.base_url}/v1/tokens/renew"
        spec: Scenario = (
            RequestSpec("POST", url, None, {"Authorization": f"Bearer {token}"})
            if args.same_token
            else ChainedRenewal(url, token)
        )
        meter = stack_meter(stack)
        load = run_load(spec, args.seconds, args.concurrency, args.processes, args.warmup, meter)
        ensure_alive(stack)
        rss_after = process_rss_mb(stack)
        rss_by_process = server_rss(stack)
    results, per_core = throughput("renewals", load, meter, args.seconds)
    if args.floor:
        floor, floor_per_core = run_floor(args)
        results["floor"] = floor
        results["renewals_vs_floor_per_server_core_s"] = (
            round(per_core / floor_per_core, 3) if per_core and floor_per_core else None
        )
    report(
        "renew",
        {
            **load_parameters(args),
            "server_workers": args.workers,
            "tokens": "the first, every time" if args.same_token else "each renewal's own",
        },
        results,
        {
            "rss_idle_mb": rss_idle,
            "rss_after_mb": rss_after,
            "rss_after_by_process_mb": rss_by_process,
        },
        {
            "renewals_per_server_core_s": target(per_core, RENEWALS_PER_CORE_S, at_least=True),
            "idle_rss_mb": target(rss_idle, IDLE_RSS_MB, at_least=False),
        },
    )
    return 0
