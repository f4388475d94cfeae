"""The liveness metrics of ``tweestap serve auth --workers 2`` (real OS processes, bench/
harness.py's stack): each worker writes its state's staleness and size to the metrics files
(a scrape of any worker reads those, not the answering worker's memory), so one scrape shows
the worst worker's staleness, within the bound once both are current, and both workers'
answers from memory added up."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from bench.harness import Stack, auth_stack

#: The default TWEESTAP_LIVENESS_MAX_STALENESS_SECONDS.
BOUND = 0.5
WAIT_S = 30.0


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with auth_stack(workers=2) as started:
        yield started


def _scrape(stack: Stack) -> str:
    ops = urlsplit(stack.ops_url)
    conn = http.client.HTTPConnection(ops.hostname or "127.0.0.1", ops.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def _samples(text: str, name: str, **labels: str) -> list[float]:
    """The values of ``name``'s samples that carry ``labels`` (in any order)."""
    found = re.findall(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.MULTILINE)
    wanted = {f'{k}="{v}"' for k, v in labels.items()}
    return [float(v) for have, v in found if wanted <= set(have.split(","))]


def _renew(stack: Stack, token: str) -> str:
    port = urlsplit(stack.base_url).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/tokens/renew", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        return str(answer["token"])
    finally:
        conn.close()


def _login(stack: Stack) -> str:
    port = urlsplit(stack.base_url).port
    body = {"practice": stack.practice, "username": stack.username, "password": stack.password}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/v1/login", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        return str(answer["token"]["token"])
    finally:
        conn.close()


def test_one_scrape_shows_every_workers_liveness(stack: Stack) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        text = _scrape(stack)
        staleness = _samples(text, "tweestap_liveness_staleness_seconds")
        entries = _samples(text, "tweestap_liveness_entries")
        if staleness and max(staleness) <= BOUND and entries >= [2.0]:
            break
        assert time.monotonic() < deadline, f"not within {WAIT_S:.0f} s: {staleness} {entries}"
        time.sleep(0.2)
    # livemax: one value for the zone, the worst running worker's (both current here).
    assert len(staleness) == 1 and 0 <= staleness[0] <= BOUND, staleness
    assert _samples(text, "tweestap_liveness_entries") >= [2.0], "a practice and its employee"
    token = _login(stack)
    for _ in range(20):  # new connections: the kernel spreads them over both workers
        token = _renew(stack, token)
    text = _scrape(stack)
    memory = _samples(text, "tweestap_liveness_answers_total", check="session", source="memory")
    assert memory and sum(memory) >= 20, memory
