"""Real OS processes sharing one token file (DESIGN §8): all due for renewal at the same moment,
auth renews once (counted by auth itself, in both zones), every process ends with the same new
token, and the file stays 0600."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tweestap_client import TweestapClient

from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone
from tests.support.sdk import HungZone, url

PROCESSES = 3

#: One client process: says "ready" once it holds the token from the file, renews when told
#: ("go" on stdin) and prints the token it ends with.
SCRIPT = """
import asyncio, json, sys
from tweestap_client import TweestapClient

async def main() -> None:
    zones, path = json.loads(sys.argv[1]), sys.argv[2]
    async with TweestapClient(zones, token_path=path) as client:
        if client.token is None:
            raise SystemExit("no token in the file")
        print("ready", flush=True)
        sys.stdin.readline()
        token = await client.bearer()
        answer = {"token": token, "zone": client.zone, "hedges": client.hedges}
        print(json.dumps(answer), flush=True)

asyncio.run(main())
"""


async def renewals(zone: Zone) -> float:
    """Renewals auth counted in ``zone`` (tweestap_tokens_total{kind="token.renewed"})."""
    text = await (await zone.ops.get("/metrics")).text()
    found = re.findall(
        r'^tweestap_tokens_total\{[^}]*kind="token\.renewed"[^}]*\} (\S+)$', text, re.M
    )
    return sum(float(value) for value in found)


def make_due(path: Path) -> str:
    """Put the stored token's renew_after in the past (the client's schedule only: the token
    itself is untouched), as if its processes had all slept until X/2."""
    record = json.loads(path.read_text())
    record["renew_after"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    path.write_text(json.dumps(record))
    os.chmod(path, 0o600)
    return str(record["token"])


async def renew_in_processes(zones: list[str], path: Path) -> tuple[list[str], int]:
    """PROCESSES client processes on ``path``, all told to take a bearer at once: the token
    each ends with, and how many calls they hedged to a second zone (a renewal slower than
    ``hedge_after``, as on a busy machine, is also asked of the other zone: DESIGN §8)."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SCRIPT,
            json.dumps(zones),
            str(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line == b"ready\n", line
    for process in processes:  # all due, all told at once
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 30)
    assert [p.returncode for p in processes] == [0] * PROCESSES
    answers = [json.loads(out) for out, _ in outputs]
    return [answer["token"] for answer in answers], sum(answer["hedges"] for answer in answers)


async def test_processes_sharing_the_file_renew_once(
    two_zones: tuple[Zone, Zone], tmp_path: Path
) -> None:
    a, b = two_zones
    zones = [url(a), url(b)]
    path = tmp_path / "token.json"
    async with TweestapClient(zones, token_path=path) as client:
        step = await client.login("fysio", "admin", ADMIN_PASSWORD)
        assert step.next == "done"
    old = make_due(path)
    before = await renewals(a) + await renewals(b)

    ended, hedges = await renew_in_processes(zones, path)

    assert len(set(ended)) == 1 and ended[0] != old, "every process ends with the same new token"
    assert json.loads(path.read_text())["token"] == ended[0]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert hedges <= 1, "only the lock holder renewed (and perhaps hedged)"
    renewed = await renewals(a) + await renewals(b) - before
    assert renewed == 1 + hedges, "auth renewed once (and once more in the other zone per hedge)"


async def test_processes_sharing_the_file_renew_once_when_the_zone_in_use_hangs(
    cluster: Cluster, hung: HungZone, tmp_path: Path
) -> None:
    """Zone 0 accepts connections and never answers: the process holding the lock hedges its
    renewal to zone 1 inside the lock, and the others adopt its token: still one renewal."""
    b = await cluster.start("b")
    await cluster.bootstrap(b)
    path = tmp_path / "token.json"
    async with TweestapClient([url(b)], token_path=path) as client:
        assert (await client.login("fysio", "admin", ADMIN_PASSWORD)).next == "done"
    old = make_due(path)
    before = await renewals(b)

    ended, _ = await renew_in_processes([await hung.start(), url(b)], path)

    assert len(set(ended)) == 1 and ended[0] != old, "every process ends with the same new token"
    assert await renewals(b) - before == 1, "auth renewed once"
    assert len(hung.requests) == 1, "only the lock holder asked the hung zone (then hedged)"
