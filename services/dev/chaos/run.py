"""A chaos run: a local deployment, the load and the nemesis for N minutes, the heal, the
convergence (bounded), the checks; the result as JSON (docs/chaos.md).

The schedule of faults depends on the seed and the duration only: the same ``--seed`` and
``--minutes`` replay the same faults at the same times (the load's timing differs a little
from run to run; its choices come from the seed too).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import logging
import random
import secrets
import shutil
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import asyncpg

from services.dev.chaos import checks
from services.dev.chaos import schedule as kinds
from services.dev.chaos.history import Entry, History
from services.dev.chaos.load import Load
from services.dev.chaos.nemesis import Nemesis
from services.dev.chaos.partition import Partitions, unsupported
from services.dev.deployment import Deployment
from services.dev.fault_env import FAULT_SERVICE_ENV
from shared.events import PasswordPolicy

log = logging.getLogger("tweestap.chaos")
#: After the heal: how long the zones may take to converge, and the outbox's bound.
SETTLE_SECONDS = 60.0
OUTBOX_BOUND_SECONDS = 30.0
#: How long acknowledged notifications may still take to reach the sink after convergence.
DELIVERY_SECONDS = 30.0


def run(minutes: float, seed: int, folder: Path | None = None) -> dict[str, Any]:
    """One chaos run; ``folder`` keeps the deployment, its logs and ``history.jsonl`` (a
    temporary folder otherwise, removed afterwards unless a violation was found)."""
    root = folder or Path(tempfile.mkdtemp(prefix="tweestap-chaos-", dir="/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    transcript = (root / "deployment.log").open("a")

    def echo(line: str) -> None:
        transcript.write(line + "\n")
        transcript.flush()

    deployment = Deployment(
        root / "deployment", ports="free", env=FAULT_SERVICE_ENV, echo=echo, web=True
    )
    partitions: Partitions | None = None
    why_not = unsupported()
    try:
        deployment.start()
        if why_not is None:
            partitions = Partitions(deployment.broker_port, secrets.token_hex(3))
        result = asyncio.run(_chaos(deployment, root, minutes, seed, partitions, why_not))
    finally:
        if partitions is not None:
            partitions.mend_all()
        deployment.stop()
        transcript.close()
    result["folder"] = str(root)
    if folder is None and not result["violations"]:
        shutil.rmtree(root, ignore_errors=True)
        result["folder"] = None
    return result


async def _chaos(
    deployment: Deployment,
    root: Path,
    minutes: float,
    seed: int,
    partitions: Partitions | None,
    why_not: str | None,
) -> dict[str, Any]:
    seconds = minutes * 60
    history = History(root / "history.jsonl")
    load = Load(deployment, history, random.Random(seed))
    allowed = [k for k in kinds.KINDS if partitions is not None or k != kinds.PARTITION]
    faults = kinds.schedule(seed, seconds, kinds=allowed)
    try:
        await load.setup()
        history.started = history.clock()  # the schedule's times count from here
        history.record({"type": "started", "at": 0.0, "seed": seed, "seconds": seconds})
        nemesis = Nemesis(deployment, history, load.saturate, partitions)
        faulting = asyncio.create_task(nemesis.run(faults))
        try:
            await load.run(until=seconds)
            await faulting
        finally:
            faulting.cancel()
            await nemesis.heal()
        converged = await _converged(deployment)
        await load.final_probes()
        found = await _checks(deployment, load, history)
    finally:
        await load.close()
    invariants = [c.to_json() for c in found] + converged
    violations = sum(int(c["violations"]) for c in invariants)
    result: dict[str, Any] = {
        "seed": seed,
        "minutes": minutes,
        "partitions": "supported" if why_not is None else f"left out: {why_not}",
        "operations": _operations(history.entries),
        "faults": dict(Counter(f["kind"] for f in checks.faults_of(history.entries))),
        "fault_errors": [
            f"{f['kind']} {f['target']}: {f['error']}"
            for f in checks.faults_of(history.entries)
            if f.get("error")
        ],
        "notifications": next(c["detail"] for c in invariants if c["name"].startswith("5-")),
        "revocation_lag": next(c["detail"] for c in invariants if c["name"].startswith("2-")),
        "invariants": {c["name"]: c for c in invariants},
        "violations": violations,
    }
    if violations:
        result["replay"] = {
            "command": f"tweestap chaos --minutes {minutes:g} --seed {seed}",
            "schedule": [f.to_json() for f in faults],
        }
    return result


def _operations(entries: list[Entry]) -> dict[str, dict[str, int]]:
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for e in entries:
        if e["type"] == "op":
            by[e["kind"]][e["outcome"]] += 1
    return {kind: dict(outcomes) for kind, outcomes in sorted(by.items())}


async def _converged(deployment: Deployment) -> list[dict[str, Any]]:
    """Invariants 3 (tables), 5 (audit, dead letters) and 6 by services/dev/convergence.py."""
    try:
        from services.dev.convergence import check_converged
    except ImportError as error:
        return [
            {
                "name": "convergence",
                "violations": 0,
                "examples": [],
                "detail": {"skipped": f"services/dev/convergence.py not importable: {error}"},
            }
        ]
    found = await check_converged(
        deployment, settle_seconds=SETTLE_SECONDS, outbox_bound_seconds=OUTBOX_BOUND_SECONDS
    )
    return [
        {
            "name": c.name,
            "violations": len(c.violations),
            "examples": c.violations[: checks.MAX_EXAMPLES],
            "detail": c.detail,
        }
        for c in found
    ]


async def _checks(deployment: Deployment, load: Load, history: History) -> list[checks.Check]:
    entries = history.entries
    ghosts = [(p.id, g) for p in load.practices for g in p.ghosts]
    failures = await _failures(deployment, ghosts)
    delivered = await _delivered(deployment, history)
    final = await _fields(deployment, load)
    return [
        checks.calls(entries, deployment.zones),
        checks.revocations(entries),
        checks.merged_fields(entries, final),
        checks.lockout(failures, PasswordPolicy().max_attempts),
        checks.locked_out(entries),
        checks.notifications(entries, delivered),
    ]


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows
    finally:
        await conn.close()


async def _failures(deployment: Deployment, ghosts: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The failure rows of the guessed usernames, each once (by event id) over both zones'
    auth databases, counted per zone that evaluated the guess."""
    seen: dict[str, tuple[str, str, str]] = {}
    for zone in deployment.zones:
        rows = await _fetch(
            deployment.dsn("auth", zone),
            "SELECT event_id, practice, username, zone FROM login_failures "
            "WHERE (practice, username) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            [p for p, _ in ghosts],
            [g for _, g in ghosts],
        )
        for r in rows:
            seen[str(r["event_id"])] = (r["practice"], r["username"], r["zone"])
    counted = Counter(seen.values())
    return [
        {"practice": p, "username": u, "zone": z, "count": n} for (p, u, z), n in counted.items()
    ]


def _mail_ids(folder: Path) -> Counter[str]:
    """Copies per notification request in the sink (the Message-ID is the request id)."""
    parser = email.parser.BytesHeaderParser()
    ids: Counter[str] = Counter()
    for path in folder.glob("*.eml"):
        with contextlib.suppress(OSError):
            message_id = str(parser.parsebytes(path.read_bytes()).get("Message-ID", ""))
            ids[message_id.strip("<> ").split("@", 1)[0]] += 1
    return ids


async def _delivered(deployment: Deployment, history: History) -> dict[str, int]:
    """Waits (bounded) until every acknowledged request is in the sink."""
    wanted = {str(e["request_id"]) for e in history.of("notify") if e["acked"]}
    deadline = asyncio.get_running_loop().time() + DELIVERY_SECONDS
    while True:
        ids = _mail_ids(deployment.mail_folder)
        if wanted <= set(ids) or asyncio.get_running_loop().time() > deadline:
            return dict(ids)
        await asyncio.sleep(0.5)


async def _fields(deployment: Deployment, load: Load) -> dict[str, dict[str, Any]]:
    """Each zone's name and phone of each practice's shared employee (enrolment's copy)."""
    final: dict[str, dict[str, Any]] = {}
    for zone in deployment.zones:
        values: dict[str, Any] = {}
        for p in load.practices:
            rows = await _fetch(
                deployment.dsn("enrolment", zone),
                "SELECT name, phone FROM employees WHERE practice = $1 AND id = $2",
                p.id,
                p.merged,
            )
            for r in rows:
                values[f"{p.id}/{p.merged}/name"] = r["name"]
                values[f"{p.id}/{p.merged}/phone"] = r["phone"]
        final[zone] = values
    return final
