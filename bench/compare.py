"""``tweestap bench compare``: Tweestap side by side with a certified peer, the same load on
both in one run — RFC 7662 introspection of a live token, token renewal (Tweestap's sliding
window; the peer's refresh grant) and the OpenID Connect code exchange — each per second and
per server CPU-second (from /proc of the serving processes: auth alone, and auth with its
PostgreSQL; the peer is one process with its store in memory), and their ratios.

The peer is panva's oidc-provider (tests/peers/bench-peer.mjs), run when Node.js and
tests/peers/node_modules are there (``make peers``); it is never a runtime dependency."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.harness import (
    CpuMeter,
    LoadResult,
    RequestSpec,
    Scenario,
    auth_stack,
    base_parser,
    load_parameters,
    log,
    login_once,
    report,
    run_load,
    run_load_here,
    stack_meter,
    target,
)
from bench.introspect import relying_service
from bench.oidc import (
    AUTH,
    FORM_TYPE,
    MAX_CODE_PHASE_S,
    App,
    CodeExchange,
    Load,
    MintCodes,
    RefreshChains,
    per_server_core,
    register,
)
from bench.renew import ChainedRenewal
from services.dev.infra import free_port

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "tests" / "peers"
PEER_SCRIPT = PEERS / "bench-peer.mjs"
PEER_CLIENT = "bench-app"
#: Codes minted for the peer's exchange phase (it redeems each once).
PEER_CODES = 60_000
#: Auth, and auth with its PostgreSQL: whose CPU a figure divides by.
AUTH_AND_DB = ("server", "postgres")
#: The issue's goals (issue 27).
INTROSPECTION_RATIO_WITH_DB = 1.0
RENEWALS_PER_CORE_S = 5000.0
PHASES = (
    ("introspection", "introspections"),
    ("renewal", "renewals"),
    ("exchange", "exchanges"),
)


def figures(
    noun: str, load: LoadResult, meter: CpuMeter, seconds: float, with_db: bool
) -> dict[str, Any]:
    """:func:`bench.oidc.per_server_core` over the server alone, and with its database."""
    found = per_server_core(noun, load, meter, seconds, AUTH)
    if with_db:
        both = sum(meter.seconds.get(name, 0.0) for name in AUTH_AND_DB)
        found[f"{noun}_per_server_and_db_core_s"] = round(load.ok / both, 1) if both else None
    else:  # the peer keeps everything in its one process
        found[f"{noun}_per_server_and_db_core_s"] = found[f"{noun}_per_server_core_s"]
    return found


def tweestap(load: Load) -> dict[str, Any]:
    """The three phases against one auth server (its own PostgreSQL and broker)."""
    results: dict[str, Any] = {}
    with auth_stack() as stack:
        time.sleep(1.0)
        token = login_once(stack)["token"]["token"]
        basic = relying_service(stack.settings)
        log(f"tweestap introspection: {load.seconds:g} s, concurrency {load.concurrency}")
        introspect = RequestSpec(
            "POST",
            f"{stack.base_url}/v1/tokens/introspect",
            urlencode({"token": token}).encode(),
            {"Authorization": basic, **FORM_TYPE},
            expect="active",
        )
        done, meter = load.run(stack, introspect)
        results["introspection"] = figures("introspections", done, meter, load.seconds, True)
        log("tweestap renewal")
        renewal = ChainedRenewal(f"{stack.base_url}/v1/tokens/renew", token)
        done, meter = load.run(stack, renewal)
        results["renewal"] = figures("renewals", done, meter, load.seconds, True)
        log("tweestap code exchange: codes first (not compared)")
        app = asyncio.run(register(stack, "RS256"))
        sso_token = login_once(stack)["token"]["token"]
        minter = MintCodes(f"{stack.base_url}/v1/oidc/authorizations", sso_token, app)
        run_load_here(minter, load.seconds, load.concurrency, load.warmup, stack_meter(stack))
        exchange = CodeExchange(f"{stack.base_url}/v1/oidc/token", app, minter.codes)
        done, meter = load.run(stack, exchange)
        results["exchange"] = figures("exchanges", done, meter, load.seconds, True)
        results["exchange"]["codes_minted"] = len(minter.codes)
    return results


def peer_missing() -> str | None:
    """Why the peer cannot run here, or None."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not (PEERS / "node_modules" / "oidc-provider").is_dir():
        return "tests/peers/node_modules lacks oidc-provider: run `make peers`"
    return None


@contextmanager
def peer_server() -> Iterator[tuple[str, int, str]]:
    """The peer on a free port: (its URL, its pid, the client's secret)."""
    port, secret = free_port(), os.urandom(16).hex()
    node = shutil.which("node")
    assert node is not None
    process = subprocess.Popen(  # noqa: S603 - our script, our arguments
        [node, str(PEER_SCRIPT)],
        env={**os.environ, "PEER_PORT": str(port), "PEER_SECRET": secret},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_wait_peer(url, process))
        yield url, process.pid, secret
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _wait_peer(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30.0
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the peer exited ({process.returncode})")
            try:
                async with session.get(f"{url}/.well-known/openid-configuration") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the peer did not start within 30 s")


async def _mint(url: str, codes: int, chains: int) -> dict[str, Any]:
    body = json.dumps({"codes": codes, "chains": chains}).encode()
    timeout = aiohttp.ClientTimeout(total=300)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(f"{url}/_bench/mint", data=body) as resp,
    ):
        minted: dict[str, Any] = await resp.json()
        return minted


def _run(scenario: Scenario, load: Load, pid: int) -> tuple[LoadResult, CpuMeter]:
    meter = CpuMeter({"server": [pid]})
    done = run_load(scenario, load.seconds, load.concurrency, load.processes, load.warmup, meter)
    return done, meter


def peer(load: Load) -> dict[str, Any]:
    """The same phases against the peer."""
    results: dict[str, Any] = {}
    with peer_server() as (url, pid, secret):
        app = App(PEER_CLIENT, secret)
        log(f"peer: minting {PEER_CODES} codes, {load.concurrency} refresh chains")
        minted = asyncio.run(_mint(url, PEER_CODES, load.concurrency * load.processes))
        log("peer introspection")
        introspect = RequestSpec(
            "POST",
            f"{url}/token/introspection",
            urlencode({"token": minted["access_token"]}).encode(),
            app.basic(),
            expect="active",
        )
        done, meter = _run(introspect, load, pid)
        results["introspection"] = figures("introspections", done, meter, load.seconds, False)
        log("peer refresh grant")
        chains = RefreshChains(f"{url}/token", app, minted["refresh_tokens"])
        done, meter = _run(chains, load, pid)
        results["renewal"] = figures("renewals", done, meter, load.seconds, False)
        log("peer code exchange")
        codes = [(code, verifier) for code, verifier in minted["codes"]]
        done, meter = _run(CodeExchange(f"{url}/token", app, codes), load, pid)
        results["exchange"] = figures("exchanges", done, meter, load.seconds, False)
        results["exchange"]["codes_minted"] = len(codes)
    return results


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Tweestap's figure over the peer's, per server CPU-second: auth alone, and with its
    PostgreSQL (the peer's is one process either way)."""
    found: dict[str, Any] = {}
    for phase, noun in PHASES:
        row: dict[str, float | None] = {}
        for key, suffix in (("per_server_cpu_s", "core_s"), ("with_db", "and_db_core_s")):
            name = f"{noun}_per_server_{suffix}"
            a, b = ours.get(phase, {}).get(name), theirs.get(phase, {}).get(name)
            row[key] = round(a / b, 3) if a and b else None
        found[phase] = row
    return found


def main(argv: list[str]) -> int:
    parser = base_parser("compare", __doc__ or "")
    parser.add_argument("--no-peer", action="store_true", help="measure Tweestap only")
    args = parser.parse_args(argv)
    if args.seconds + args.warmup > MAX_CODE_PHASE_S:
        parser.error(f"codes live 60 s: --seconds + --warmup at most {MAX_CODE_PHASE_S:g}")
    load = Load(args.seconds, args.concurrency, args.processes, args.warmup)
    load_before = os.getloadavg()
    ours = tweestap(load)
    missing = "--no-peer" if args.no_peer else peer_missing()
    theirs = peer(load) if missing is None else {"not_measured": missing}
    compared = ratios(ours, theirs) if missing is None else {}
    intro = compared.get("introspection", {}).get("with_db")
    renewals = ours["renewal"].get("renewals_per_server_core_s")
    report(
        "compare",
        {
            **load_parameters(args),
            "peer": "oidc-provider (tests/peers), in-memory store, opaque tokens",
            "renewal": "Tweestap: POST /v1/tokens/renew, each token the last one returned; "
            "peer: the refresh grant, one rotating chain per request in flight",
        },
        {"tweestap": ours, "peer": theirs, "ratios": compared},
        {"load_average_before": load_before, "load_average_after": os.getloadavg()},
        {
            "introspection_vs_peer_per_cpu_s_with_db": target(
                intro, INTROSPECTION_RATIO_WITH_DB, at_least=True
            ),
            "renewals_per_server_core_s": target(renewals, RENEWALS_PER_CORE_S, at_least=True),
        },
    )
    return 0
