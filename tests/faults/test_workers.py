"""``tweestap serve auth --workers 2`` as real OS processes (bench/harness.py's stack: embedded
PostgreSQL, the broker, and the auth supervisor with its workers): one port, both workers
serving, a killed worker replaced, the metrics of both in one scrape, SIGTERM stopping all."""

from __future__ import annotations

import http.client
import json
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from bench.harness import (
    Stack,
    auth_stack,
    start_server,
    stop_server,
    tail,
    wait_ready,
    worker_pids,
)
from services.dev.infra import free_port

WORKERS = 2
#: Requests that each open a connection of their own: the kernel spreads connections, so with
#: this many both workers get some unless the spreading is broken.
CONNECTIONS = 24
#: Bounds of the waits (a restart after a 1 s backoff, a worker's start, a graceful stop).
WAIT_S = 30.0
RENEW_ROUTE = "/v1/tokens/renew"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with auth_stack(workers=WORKERS) as started:
        yield started


def _port(stack: Stack) -> int:
    return urlsplit(stack.base_url).port or 0


def _request(
    port: int, method: str, path: str, body: dict[str, str] | None = None, token: str = ""
) -> tuple[int, dict[str, object], int]:
    """One request on a fresh connection: (status, JSON answer, the client's local port)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.connect()
        local_port: int = conn.sock.getsockname()[1]
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, json.dumps(body) if body else None, headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}"), local_port
    finally:
        conn.close()


def _served_by(pids: list[int], server_port: int, client_port: int) -> int | None:
    """The worker whose socket accepted the client's connection (seen while it is open)."""
    for pid in pids:
        for c in psutil.Process(pid).net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == server_port and c.raddr and c.raddr.port == client_port:
                return pid
    return None


def _renew_on_own_connection(stack: Stack, token: str) -> tuple[str, int | None]:
    """Renew on a connection of its own; the new token and the worker that answered."""
    port = _port(stack)
    pids = worker_pids(stack.server.pid)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.connect()
        client_port: int = conn.sock.getsockname()[1]
        conn.request("POST", RENEW_ROUTE, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        # The connection is still open (keep-alive): whose socket holds it.
        return str(answer["token"]), _served_by(pids, port, client_port)
    finally:
        conn.close()


def _login(stack: Stack) -> str:
    body = {"practice": stack.practice, "username": stack.username, "password": stack.password}
    status, answer, _ = _request(_port(stack), "POST", "/v1/login", body)
    assert status == 200, answer
    token = answer["token"]
    assert isinstance(token, dict)
    return str(token["token"])


def _renewals_counted(stack: Stack) -> float:
    """``tweestap_http_requests_total`` of successful renewals in one scrape of /metrics."""
    ops = urlsplit(stack.ops_url)
    conn = http.client.HTTPConnection(ops.hostname or "127.0.0.1", ops.port)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    pattern = (
        r'^tweestap_http_requests_total\{[^}]*route="'
        + re.escape(RENEW_ROUTE)
        + r'"[^}]*status="200"[^}]*\} (\S+)$'
    )
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_S:.0f} s: {what}"
        time.sleep(0.1)


def test_both_workers_serve_renewals_on_one_port_and_one_scrape_counts_them_all(
    stack: Stack,
) -> None:
    pids = worker_pids(stack.server.pid)
    assert len(pids) == WORKERS
    before = _renewals_counted(stack)
    token = _login(stack)
    answered_by = []
    for _ in range(CONNECTIONS):
        token, pid = _renew_on_own_connection(stack, token)
        answered_by.append(pid)
    assert set(answered_by) == set(pids), answered_by
    # Each worker counted only its own renewals; the scrape, whichever answered, adds them up.
    assert _renewals_counted(stack) - before == CONNECTIONS


def test_a_killed_worker_leaves_the_port_serving_and_is_started_again(stack: Stack) -> None:
    token = _login(stack)
    for _ in range(4):
        token, _ = _renew_on_own_connection(stack, token)
    counted = _renewals_counted(stack)
    killed, survivor = worker_pids(stack.server.pid)

    psutil.Process(killed).send_signal(signal.SIGKILL)
    psutil.Process(killed).wait(WAIT_S)
    for _ in range(8):
        token, pid = _renew_on_own_connection(stack, token)
        assert pid in (survivor, None)  # None: a new worker took it before we looked

    _wait(lambda: len(worker_pids(stack.server.pid)) == WORKERS, "a new worker started")
    (replacement,) = set(worker_pids(stack.server.pid)) - {survivor}
    assert replacement != killed
    assert "exited with SIGKILL" in tail(stack.server_log)
    port = _port(stack)
    _wait(lambda: _ready_on(port, replacement), "the new worker serves the port")
    # The killed worker's renewals still count: a counter of the service never goes down.
    assert _renewals_counted(stack) >= counted + 8


def _ready_on(port: int, pid: int) -> bool:
    """Whether a renewal-free request (``/openapi.json``) on a fresh connection reached ``pid``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.connect()
        client_port: int = conn.sock.getsockname()[1]
        conn.request("GET", "/openapi.json")
        response = conn.getresponse()
        response.read()
        return response.status == 200 and _served_by([pid], port, client_port) == pid
    except OSError:
        return False
    finally:
        conn.close()


def test_sigterm_to_the_supervisor_stops_every_worker(stack: Stack) -> None:
    # A supervisor of its own (on the stack's database and broker), so that the other tests
    # keep theirs.
    port = free_port()
    log_file = stack.folder / "auth-sigterm.log"
    server = start_server("auth", stack.settings, port, log_file, workers=WORKERS)
    try:
        wait_ready("auth", port, server, log_file, WORKERS)
        pids = worker_pids(server.pid)
        assert len(pids) == WORKERS
        server.send_signal(signal.SIGTERM)
        assert server.wait(WAIT_S) == 0, tail(log_file)
        assert not [pid for pid in pids if psutil.pid_exists(pid)], tail(log_file)
        assert not _restarts(log_file), tail(log_file)
    finally:
        if server.poll() is None:
            stop_server(server)


def _restarts(log_file: Path) -> list[str]:
    """The supervisor's lines about workers that died (none on an orderly stop)."""
    return [line for line in tail(log_file, 200).splitlines() if "starting it again" in line]
