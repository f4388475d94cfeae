"""``tweestap bench renew``: sliding-window token renewals per second against one auth server,
and per CPU-second of that server (the fair per-core figure: the load generator, PostgreSQL and
the broker run on the same machine)."""

from __future__ import annotations

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

RENEWALS_PER_CORE_S = 1500.0
IDLE_RSS_MB = 100.0


def main(argv: list[str]) -> int:
    args = base_parser("renew", __doc__ or "").parse_args(argv)
    with auth_stack() as stack:
        time.sleep(1.0)
        rss_idle = rss_mb(stack.server.pid)
        token = login_once(stack)["token"]["token"]
        log(f"renew load: {args.seconds:g} s, concurrency {args.concurrency}")
        # The original token stays valid: every request renews the same session.
        spec = RequestSpec(
            "POST", f"{stack.base_url}/v1/tokens/renew", None, {"Authorization": f"Bearer {token}"}
        )
        meter = stack_meter(stack)
        load = run_load(spec, args.seconds, args.concurrency, args.processes, args.warmup, meter)
        ensure_alive(stack)
        rss_after = rss_mb(stack.server.pid)
    rate = load.ok / args.seconds
    server_cpu = meter.seconds.get("server", 0.0)
    per_core = round(load.ok / server_cpu, 1) if server_cpu > 0 else None
    report(
        "renew",
        {
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "client_processes": args.processes,
            "warmup_s": args.warmup,
        },
        {
            "renewals": load.ok,
            "renewals_per_s": round(rate, 1),
            "latency_ms": latency_summary(load),
            "errors": load.errors,
            "error_samples": load.error_samples,
            "server_cpu_s": server_cpu,
            "server_cores_busy": round(server_cpu / args.seconds, 3),
            "renewals_per_server_core_s": per_core,
            "cpu_s_during_load": meter.seconds,
        },
        {"rss_idle_mb": rss_idle, "rss_after_mb": rss_after},
        {
            "renewals_per_server_core_s": target(per_core, RENEWALS_PER_CORE_S, at_least=True),
            "idle_rss_mb": target(rss_idle, IDLE_RSS_MB, at_least=False),
        },
    )
    return 0
