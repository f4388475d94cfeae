"""``tweestap bench failover``: zone failover as the SDK's users see it.

A local deployment (both zones of every service as OS processes, services/dev/deployment.py)
in a temporary folder; first revocation propagation between the zones (log in in one zone,
log out in the other, renew in the first until refused); then N SDK clients, in separate
client processes, log in and renew in a loop while zone a's auth is SIGKILLed (``--zone-down``:
the whole zone a, PostgreSQL included; ``--hang``: auth SIGSTOPped, a process that accepts
connections and never answers, like a frozen host). Prints JSON: failed client operations,
the time from the kill to the first successful call in zone b, the extra latency of the
failed-over calls, and revocation propagation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from tweestap_client import (
    DEFAULT_HEDGE_AFTER,
    DEFAULT_PASSWORD_TIMEOUT,
    DEFAULT_RENEW_TIMEOUT,
    LoginInterrupted,
    SessionEnded,
    TweestapClient,
)

from bench.harness import log, percentile, report, target
from services.dev.deployment import Deployment

PASSWORD = "Zeer-Sterk-Wachtwoord-2026!"
#: DESIGN §4 and issue 11's targets.
EXTRA_LATENCY_P99_MS = 250.0
REVOCATION_P99_MS = 1000.0
#: The load comes from one address: auth's per-address login budget would answer 429.
SERVICE_ENV = {
    "TWEESTAP_LOGIN_RATE_ATTEMPTS": "100000",
    "TWEESTAP_LOGIN_RATE_WINDOW_SECONDS": "1",
    "TWEESTAP_LOG_LEVEL": "WARNING",
}
#: How often the revoking side polls the other zone for the refusal.
POLL_S = 0.01
NOTE = (
    "Everything (8 service processes, 2 PostgreSQL, the broker and the client processes) "
    "shares this machine's cores. extra_latency_ms: per failed-over call (a call that moved "
    "to zone b inside it), its latency minus the median of its kind before the kill."
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tweestap bench failover", description=__doc__)
    p.add_argument("--clients", type=int, default=50, help="SDK clients logging in and renewing")
    p.add_argument("--processes", type=int, default=2, help="client processes")
    p.add_argument("--before", type=float, default=5.0, help="seconds of load before the kill")
    p.add_argument("--after", type=float, default=10.0, help="seconds of load after the kill")
    p.add_argument("--pause", type=float, default=0.1, help="a client's pause between rounds")
    p.add_argument("--renewals", type=int, default=2, help="renewals after each login")
    p.add_argument(
        "--zone-down",
        action="store_true",
        help="take all of zone a down (services SIGKILLed, PostgreSQL stopped), not only auth",
    )
    p.add_argument(
        "--hang",
        action="store_true",
        help="freeze zone a's auth (SIGSTOP) instead: connections open, no answer",
    )
    p.add_argument(
        "--hedge-after",
        type=float,
        default=DEFAULT_HEDGE_AFTER,
        help="the SDK's hedge_after in seconds (0: no hedging)",
    )
    p.add_argument(
        "--password-timeout",
        type=float,
        default=DEFAULT_PASSWORD_TIMEOUT,
        help="the SDK's limit for the password step, seconds",
    )
    p.add_argument(
        "--renew-timeout",
        type=float,
        default=DEFAULT_RENEW_TIMEOUT,
        help="the SDK's limit for renew, revoke and the probe, seconds",
    )
    p.add_argument("--revocations", type=int, default=50, help="revocation samples")
    p.add_argument("--keep", action="store_true", help="keep the folder (logs) afterwards")
    p.add_argument(
        "--service-env",
        action="append",
        default=[],
        type=_setting,
        metavar="NAME=VALUE",
        help="a setting for every service, e.g. TWEESTAP_ARGON2_MEMORY_KIB=8192 (repeatable)",
    )
    return p


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("TWEESTAP_"):
        raise argparse.ArgumentTypeError(f"not TWEESTAP_NAME=VALUE: {text!r}")
    return name, value


# --------------------------------------------------------------------------- client processes


@dataclass(frozen=True)
class Op:
    kind: str
    started: float
    seconds: float
    #: Index of the zone the call ended in.
    zone: int
    failed_over: bool
    error: str | None
    #: Zones this call was sent to while an earlier one was still busy (the SDK's hedge).
    hedges: int = 0
    #: A login whose password may have reached a zone that failed: the SDK does not send it
    #: to another zone (LoginInterrupted), and the user logs in again (the next op).
    interrupted: bool = False
    #: Times the SDK waited out a Retry-After in this call (every zone busy).
    retries: int = 0
    #: Why a login was interrupted or a call failed (the last zone's failure the SDK saw).
    cause: str | None = None

    @property
    def ended(self) -> float:
        return self.started + self.seconds


def failed_over(began_in: int, moved: list[tuple[int, int]]) -> bool:
    """Whether the call moved on from the zone it began in. A move back to the preferred zone
    by the SDK's probe, and the return to the zone an in-flight call was answered by, are not
    failovers (the SDK switches to the answering zone, undoing a probe-back meanwhile)."""
    return any(old == began_in and new > old for old, new in moved)


async def client_loop(
    zones: list[dict[str, str]],
    account: Mapping[str, str],
    done: Callable[[], bool],
    pause: float,
    renewals: int = 2,
    sdk: Mapping[str, Any] | None = None,
) -> list[Op]:
    """One SDK client (``sdk``: extra constructor arguments): log in, renew ``renewals`` times,
    pause; again until ``done()``. Every call is recorded, whether it failed over and hedged."""
    ops: list[Op] = []
    moved: list[tuple[int, int]] = []
    async with TweestapClient(
        zones, on_zone_switched=lambda *z: moved.append(z), **(sdk or {})
    ) as client:
        while not done():
            for kind in ("login", *["renew"] * renewals):
                moved.clear()
                began_in, hedges, retries = client.zone, client.hedges, client.retries
                started = time.monotonic()
                error, interrupted, cause = None, False, None
                try:
                    if kind == "login":
                        step = await client.login(
                            account["practice"], account["username"], account["password"]
                        )
                        error = None if step.next == "done" else f"login at {step.next}"
                    else:
                        await client.renew()
                except LoginInterrupted as exc:
                    # The documented outcome of a login in flight when its zone failed.
                    interrupted = exc.action == "login"
                    error = None if interrupted else f"{type(exc).__name__}: {exc}"[:300]
                    cause = str(exc.__cause__)[:120]
                except Exception as exc:  # every failure counts, whatever it is
                    error = f"{type(exc).__name__}: {exc}"[:300]
                    cause = None if exc.__cause__ is None else str(exc.__cause__)[:120]
                    slug = getattr(exc, "slug", "")  # the problem type of the last 5xx
                    if slug:
                        cause = f"{cause} {slug}"
                seconds = time.monotonic() - started
                over = failed_over(began_in, moved)
                hedged = client.hedges - hedges
                ops.append(
                    Op(
                        kind,
                        started,
                        seconds,
                        client.zone,
                        over,
                        error,
                        hedged,
                        interrupted,
                        client.retries - retries,
                        cause,
                    )
                )
                if interrupted:
                    break  # the user logs in again: the round starts over
            await asyncio.sleep(pause)
    return ops


async def _clients(job: dict[str, Any]) -> list[Op]:
    await asyncio.sleep(max(0.0, job["start_at"] - time.monotonic()))
    parts = await asyncio.gather(
        *(
            client_loop(
                job["zones"],
                account,
                lambda: time.monotonic() >= job["stop_at"],
                job["pause"],
                job["renewals"],
                job["sdk"],
            )
            for account in job["accounts"]
        )
    )
    return [op for part in parts for op in part]


def worker() -> None:
    """A client process: the job as JSON on stdin, its operations as JSON on stdout.
    time.monotonic() is system-wide on Linux: the parent's times hold here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    job = json.loads(sys.stdin.read())
    ops = asyncio.run(_clients(job))
    json.dump([asdict(op) for op in ops], sys.stdout)


def _start_workers(
    zones: list[dict[str, str]],
    accounts: list[dict[str, str]],
    processes: int,
    start_at: float,
    stop_at: float,
    pause: float,
    renewals: int,
    sdk: dict[str, Any],
) -> list[subprocess.Popen[str]]:
    workers = []
    for index in range(processes):
        job = {
            "zones": zones,
            "accounts": accounts[index::processes],
            "start_at": start_at,
            "stop_at": stop_at,
            "pause": pause,
            "renewals": renewals,
            "sdk": sdk,
        }
        process = subprocess.Popen(
            [sys.executable, "-c", "from bench.failover import worker; worker()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(job))
        process.stdin.close()
        workers.append(process)
    return workers


def _collect(workers: list[subprocess.Popen[str]], timeout: float) -> list[Op]:
    ops: list[Op] = []
    for process in workers:
        assert process.stdout is not None
        out = process.stdout.read()
        process.wait(timeout)
        if process.returncode != 0:
            raise RuntimeError(f"a client process failed ({process.returncode})")
        ops += [Op(**op) for op in json.loads(out)]
    return ops


# --------------------------------------------------------------------------- revocation


async def _revocation_ms(deployment: Deployment, account: dict[str, str], there: str) -> float:
    """Log in in zone ``there``, log out in the other zone, renew in ``there`` until refused:
    the milliseconds from the logout's answer to the first refusal."""
    here = next(z for z in deployment.zones if z != there)
    async with (
        TweestapClient([deployment.url("auth", there)]) as there_client,
        aiohttp.ClientSession() as session,
    ):
        await there_client.login(account["practice"], account["username"], account["password"])
        token = there_client.token
        revoke = f"{deployment.url('auth', here)}/v1/tokens/revoke"
        async with session.post(revoke, headers={"Authorization": f"Bearer {token}"}) as answer:
            if answer.status >= 300:
                raise RuntimeError(f"revoke in zone {here}: {answer.status}")
        revoked_at = time.monotonic()
        renew = f"{deployment.url('auth', there)}/v1/tokens/renew"
        while True:
            async with session.post(renew, headers={"Authorization": f"Bearer {token}"}) as r:
                if r.status == 401:
                    return (time.monotonic() - revoked_at) * 1000
            if time.monotonic() - revoked_at > 30:
                raise SessionEnded("not refused within 30 s")
            await asyncio.sleep(POLL_S)


async def _revocations(
    deployment: Deployment, accounts: list[dict[str, str]], samples: int
) -> dict[str, list[float]]:
    """Samples alternate: revoked in a → refused in b, and revoked in b → refused in a."""
    found: dict[str, list[float]] = {"a_to_b": [], "b_to_a": []}
    for index in range(samples):
        there = "b" if index % 2 == 0 else "a"
        account = accounts[index % len(accounts)]
        ms = await _revocation_ms(deployment, account, there)
        found["a_to_b" if there == "b" else "b_to_a"].append(ms)
    return found


# --------------------------------------------------------------------------- figures


def extra_ms(ops: list[Op], killed_at: float) -> list[float]:
    """Per failed-over call: its latency minus the median of its kind before the kill."""
    base = _baseline(ops, killed_at)
    return [(o.seconds - base.get(o.kind, 0.0)) * 1000 for o in ops if o.failed_over]


def _baseline(ops: list[Op], killed_at: float) -> dict[str, float]:
    baseline: dict[str, float] = {}
    for kind in {op.kind for op in ops}:
        before = [o.seconds for o in ops if o.kind == kind and o.ended < killed_at and not o.error]
        if before:
            baseline[kind] = statistics.median(before)
    return baseline


def _extra_summary(ops: list[Op], killed_at: float, extra: list[float]) -> dict[str, Any]:
    """The extra latency, also apart for calls in flight at the kill (their connection was
    cut) and calls started after it (refused at once), and per kind of call."""
    base = _baseline(ops, killed_at)

    def extra_of(selected: list[Op]) -> dict[str, Any]:
        values = [(o.seconds - base.get(o.kind, 0.0)) * 1000 for o in selected]
        return {"calls": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99)}

    over = [o for o in ops if o.failed_over]
    return {
        "p50": percentile(extra, 50),
        "p99": percentile(extra, 99),
        "max": percentile(extra, 100),
        "in_flight_at_kill": extra_of([o for o in over if o.started < killed_at]),
        "started_after_kill": extra_of([o for o in over if o.started >= killed_at]),
        "login": extra_of([o for o in over if o.kind == "login"]),
        "renew": extra_of([o for o in over if o.kind == "renew"]),
        "baseline_median_ms": {k: round(v * 1000, 1) for k, v in base.items()},
    }


def _latency(values_s: list[float]) -> dict[str, float | None]:
    ms = [v * 1000 for v in values_s]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": percentile(ms, 100)}


def _figures(ops: list[Op], killed_at: float) -> dict[str, Any]:
    failed = [o for o in ops if o.error]
    in_b = [o.ended for o in ops if not o.error and o.zone == 1 and o.ended >= killed_at]
    extra = extra_ms(ops, killed_at)
    samples: list[str] = []
    for o in failed:
        if o.error not in samples and len(samples) < 5:
            samples.append(str(o.error))
    return {
        "operations": len(ops),
        "operations_after_kill": sum(o.started >= killed_at for o in ops),
        "failed_operations": len(failed),
        "failed_samples": samples,
        "errors_by_type": dict(Counter(str(o.error).split(":")[0] for o in failed)),
        "zones_unavailable": sum(str(o.error).startswith("ZonesUnavailable") for o in failed),
        "renewals_failed": sum(o.kind == "renew" for o in failed),
        "failed_by_cause": dict(Counter(f"{o.kind}: {o.cause}" for o in failed)),
        "interrupted_logins": sum(o.interrupted for o in ops),
        # A login the user got through: neither failed nor interrupted (to be typed again).
        "logins_succeeded": sum(
            o.kind == "login" and not o.error and not o.interrupted for o in ops
        ),
        "interrupted_by": dict(Counter(str(o.cause) for o in ops if o.interrupted)),
        "calls_that_waited_for_retry_after": sum(o.retries > 0 for o in ops),
        "kill_to_first_success_in_zone_b_ms": (
            round((min(in_b) - killed_at) * 1000, 1) if in_b else None
        ),
        "failed_over_calls": len(extra),
        "extra_latency_ms": _extra_summary(ops, killed_at, extra),
        "latency_before_kill_ms": _latency([o.seconds for o in ops if o.ended < killed_at]),
        "latency_after_kill_ms": _latency([o.seconds for o in ops if o.started >= killed_at]),
        "hedged_calls": sum(o.hedges > 0 for o in ops),
        "by_kind": {kind: _kind(ops, killed_at, kind) for kind in ("login", "renew")},
    }


def _kind(ops: list[Op], killed_at: float, kind: str) -> dict[str, Any]:
    """One kind of call on its own: logins (never hedged, argon2) and renewals differ."""
    mine = [o for o in ops if o.kind == kind]
    base = _baseline(ops, killed_at).get(kind, 0.0)
    over = [(o.seconds - base) * 1000 for o in mine if o.failed_over]
    in_b = [o.ended for o in mine if not o.error and o.zone == 1 and o.ended >= killed_at]
    before = [o.seconds * 1000 for o in mine if o.ended < killed_at and not o.error]
    return {
        "calls": len(mine),
        "failed": sum(o.error is not None for o in mine),
        "interrupted": sum(o.interrupted for o in mine),
        "failed_over": len(over),
        "hedged": sum(o.hedges > 0 for o in mine),
        "extra_latency_ms": {
            "p50": percentile(over, 50),
            "p99": percentile(over, 99),
            "max": percentile(over, 100),
        },
        "kill_to_first_success_in_zone_b_ms": (
            round((min(in_b) - killed_at) * 1000, 1) if in_b else None
        ),
        "latency_before_kill_ms": {
            "p50": percentile(before, 50),
            "p95": percentile(before, 95),
            "p99": percentile(before, 99),
        },
        "latency_after_kill_ms": _latency(
            [o.seconds for o in mine if o.started >= killed_at and not o.error]
        ),
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="tweestap-failover-", dir="/tmp"))
    env = {**SERVICE_ENV, **dict(args.service_env)}
    deployment = Deployment(folder, ports="free", env=env, echo=log)
    try:
        log(f"starting both zones in {folder}")
        deployment.start()
        accounts = asyncio.run(_accounts(deployment, args.clients))
        log(f"{args.revocations} revocation samples")
        revocations = asyncio.run(_revocations(deployment, accounts, args.revocations))
        zones = [
            {service: deployment.url(service, zone) for service in deployment.services}
            for zone in deployment.zones
        ]
        start_at = time.monotonic() + 2.0  # the client processes start meanwhile
        kill_at = start_at + args.before
        stop_at = kill_at + args.after
        log(f"{args.clients} clients in {args.processes} processes; the kill in {args.before} s")
        sdk = {
            "hedge_after": args.hedge_after,
            "password_timeout": args.password_timeout,
            "renew_timeout": args.renew_timeout,
        }
        workers = _start_workers(
            zones, accounts, args.processes, start_at, stop_at, args.pause, args.renewals, sdk
        )
        time.sleep(max(0.0, kill_at - time.monotonic()))
        killed_at = time.monotonic()
        _fault(deployment, args)
        ops = _collect(workers, args.after + 120)
        if args.hang:
            deployment.kill("auth", "a", signal.SIGCONT)
        restarts = deployment.restarts("auth", "a")
    finally:
        log("stopping")
        deployment.stop()
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    figures = _figures(ops, killed_at)
    everything = revocations["a_to_b"] + revocations["b_to_a"]
    revocation = {
        "samples": len(everything),
        "p50_ms": percentile(everything, 50),
        "p99_ms": percentile(everything, 99),
        "max_ms": percentile(everything, 100),
        "a_to_b_p99_ms": percentile(revocations["a_to_b"], 99),
        "b_to_a_p99_ms": percentile(revocations["b_to_a"], 99),
        "poll_interval_ms": POLL_S * 1000,
    }
    report(
        "failover",
        {
            "clients": args.clients,
            "client_processes": args.processes,
            "fault": _fault_name(args),
            "before_s": args.before,
            "after_s": args.after,
            "pause_s": args.pause,
            "renewals_per_login": args.renewals,
            "sdk_hedge_after_s": args.hedge_after,
            "sdk_password_timeout_s": args.password_timeout,
            "sdk_renew_timeout_s": args.renew_timeout,
            "service_env": dict(args.service_env),
        },
        {**figures, "auth_a_restarts": restarts, "revocation": revocation},
        {},
        {
            "failed_operations": target(figures["failed_operations"], 0, at_least=False),
            "extra_latency_p99_ms": target(
                figures["extra_latency_ms"]["p99"], EXTRA_LATENCY_P99_MS, at_least=False
            ),
            "revocation_p99_ms": target(revocation["p99_ms"], REVOCATION_P99_MS, at_least=False),
        },
        NOTE,
    )
    return 0


def _fault(deployment: Deployment, args: argparse.Namespace) -> None:
    if args.zone_down:
        deployment.zone_down("a")
    elif args.hang:
        deployment.kill("auth", "a", signal.SIGSTOP)
    else:
        deployment.kill("auth", "a", signal.SIGKILL)


def _fault_name(args: argparse.Namespace) -> str:
    if args.zone_down:
        return "zone a down (services SIGKILL, PostgreSQL stopped)"
    return "zone a auth SIGSTOP (hung)" if args.hang else "zone a auth SIGKILL"


async def _accounts(deployment: Deployment, count: int) -> list[dict[str, str]]:
    """A practice per client (no two clients share a lockout or a login queue)."""
    names = [f"failover-{index}-{secrets.token_hex(3)}" for index in range(count)]
    await deployment.bootstrap(names[0], "admin", PASSWORD)  # the first creates the topics
    await asyncio.gather(*(deployment.bootstrap(n, "admin", PASSWORD) for n in names[1:]))
    return [{"practice": n, "username": "admin", "password": PASSWORD} for n in names]
