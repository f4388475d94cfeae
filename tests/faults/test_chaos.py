"""A short chaos run with a fixed seed (services/dev/chaos, docs/chaos.md): two minutes of
random faults under the mixed load, then the heal, the convergence and every invariant. It
fails on any violation, naming the seed and the invariants that broke: ``tweestap chaos
--minutes 2 --seed 12 --folder PATH`` replays the same faults and keeps the history.

The run starts a deployment of its own (the faults would disturb the session's shared one)."""

from __future__ import annotations

import json
from pathlib import Path

from services.dev.chaos import schedule
from services.dev.chaos.run import run

SEED = 12
MINUTES = 2.0


def test_two_minutes_of_chaos_break_no_invariant(tmp_path: Path) -> None:
    result = run(MINUTES, SEED, tmp_path / "chaos")
    broken = {
        name: check["examples"]
        for name, check in result["invariants"].items()
        if check["violations"]
    }
    assert not broken, (
        f"seed {SEED}: {result['violations']} violations; replay with `tweestap chaos "
        f"--minutes {MINUTES:g} --seed {SEED}`; history in {result['folder']}\n"
        + json.dumps(broken, indent=2)
    )
    # The run did what it says: faults of several kinds, and the load went on meanwhile.
    assert sum(result["faults"].values()) == len(
        schedule.schedule(
            SEED,
            MINUTES * 60,
            kinds=[
                k
                for k in schedule.KINDS
                if k != schedule.PARTITION or result["partitions"] == "supported"
            ],
        )
    )
    assert result["operations"]["renew"].get("ok", 0) > 50
    assert result["revocation_lag"]["revoked_sessions"] > 10
    assert result["notifications"]["delivered"] > 10
