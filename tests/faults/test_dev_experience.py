"""``tweestap dev`` as a newcomer meets it, run as the real command (``python -m services.cli
dev``) on ports of its own (``TWEESTAP_DEV_PORT_OFFSET``), beside any ``make run``: a taken
port, the banner's and ``demo.json``'s password after the walkthrough changed it and failed
logins locked the administrator, ``tweestap dev reset-admin``, ``tweestap zone`` twice, the pid
files, the issuer, the web's log, the noise and the last line."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from services.dev import ports
from services.dev.deployment import (
    FIXED_BROKER_PORT,
    FIXED_SMS_PORT,
    FIXED_SMTP_PORT,
    FIXED_WEB_PORT,
    Deployment,
)
from services.dev.settings import DevSettings
from services.registry import SERVICES
from shared.settings import OPS_PORT_OFFSET
from tests.support.deployment import SERVICE_ENV

ROOT = Path(__file__).resolve().parents[2]
BANNER_END = "Press Ctrl-C to stop."
JSON = {"Content-Type": "application/json"}


def _fixed_ports() -> list[int]:
    services = [SERVICES[s].default_port(z) for s in SERVICES for z in ("a", "b")]
    return [
        FIXED_BROKER_PORT,
        FIXED_SMTP_PORT,
        FIXED_SMS_PORT,
        FIXED_WEB_PORT,
        DevSettings().control_port,
        *services,
        *(p + OPS_PORT_OFFSET for p in services),
    ]


def _free_offset() -> int:
    """An offset whose every port is free, below the ephemeral range (where other tests'
    free ports come from) and away from the documented 10000."""
    for _ in range(200):
        offset = random.randrange(11000, 23000, 100)
        if all(ports.bindable(port + offset) for port in _fixed_ports()):
            return offset
    raise AssertionError("no free port offset")


class DevProcess:
    """``tweestap dev`` on ``var`` as a child process; what it prints is kept in ``lines``."""

    def __init__(self, var: Path, offset: int) -> None:
        self.var = var
        self.offset = offset
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        self.env = {**env, **SERVICE_ENV, "TWEESTAP_DEV_PORT_OFFSET": str(offset)}

    def port(self, fixed: int) -> int:
        return fixed + self.offset

    def url(self, service: str, zone: str) -> str:
        return f"http://127.0.0.1:{self.port(SERVICES[service].default_port(zone))}"

    @property
    def web_port(self) -> int:
        return self.port(FIXED_WEB_PORT)

    def start(self, *args: str, banner: bool = True) -> None:
        """Start it; with ``banner``, return once its banner is out."""
        mark = len(self.lines)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "dev", "--var", str(self.var), *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        if banner:
            self.wait_for(BANNER_END, 240, since=mark)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, limit: float = 60.0, since: int = 0) -> None:
        deadline = time.monotonic() + limit
        while not any(text in line for line in self.lines[since:]):
            assert self.process is not None
            if self.process.poll() is not None:
                time.sleep(0.2)  # the reader's last lines
                if any(text in line for line in self.lines[since:]):
                    return
                raise AssertionError(f"exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {limit} s:\n{self.output()}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        time.sleep(0.2)
        return code

    def output(self, since: int = 0) -> str:
        return "\n".join(self.lines[since:])

    def command(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """``tweestap ARGS --var VAR`` beside it, as a user in a second terminal runs it."""
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args, "--var", str(self.var)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def demo(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.var / "dev" / "demo.json").read_text())
        return loaded


async def _login(
    session: aiohttp.ClientSession, url: str, password: str, username: str = "admin"
) -> tuple[int, dict[str, Any]]:
    body = {"practice": "demo", "username": username, "password": password}
    async with session.post(f"{url}/v1/login", json=body) as response:
        return response.status, await response.json(content_type=None)


# -- a taken port ------------------------------------------------------------------------------


def _listen(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_taken_port_stops_tweestap_dev_at_once(tmp_path: Path) -> None:
    """Before: 90 s of restarts of auth zone a in silence, then a traceback (TimeoutError)."""
    dev = DevProcess(tmp_path / "var", _free_offset())
    taken = dev.port(SERVICES["auth"].default_port("a"))
    with _listen(taken):
        started = time.monotonic()
        dev.start(banner=False)
        assert dev.process is not None
        code = dev.process.wait(60)
        took = time.monotonic() - started
    said = dev.output()
    assert code == 2, said
    assert took < 20, f"{took:.1f} s"
    assert f"port {taken} (auth zone a) is taken by pid {os.getpid()} (" in said, said
    assert "TWEESTAP_DEV_PORT_OFFSET" in said and "Nothing was started." in said
    assert "Traceback" not in said
    assert not (tmp_path / "var" / "pg-a").exists(), "nothing started"


def test_a_service_whose_port_is_taken_says_so_at_once(tmp_path: Path) -> None:
    """A port taken after the deployment started (a restart, ``zone up``): the wait for the
    service ends with which port and what holds it, not a readiness timeout."""
    said: list[str] = []
    deployment = Deployment(
        tmp_path, ports="free", zones=("a",), services=("notifier",), env=SERVICE_ENV,
        echo=said.append,
    )  # fmt: skip
    with deployment:
        deployment.hold("notifier", "a")
        port = deployment.supervisor.get("notifier", "a").port
        with _listen(port):
            started = time.monotonic()
            with pytest.raises(ports.PortTaken) as raised:
                deployment.release("notifier", "a")
            assert time.monotonic() - started < 30
        assert f"port {port} (notifier zone a) is taken by pid {os.getpid()}" in str(raised.value)


# -- one `tweestap dev` for the rest ---------------------------------------------------------------


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    process = DevProcess(tmp_path_factory.mktemp("dev") / "var", _free_offset())
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_the_banner_says_no_noise_and_how_to_reach_this_checkout(dev: DevProcess) -> None:
    said = dev.output()
    demo = dev.demo()
    assert f"password '{demo['password']}'" in said
    assert "XDG_RUNTIME_DIR" not in said and "Warning" not in said, said
    assert f"kill -9 $(cat {dev.var / 'run'}/auth-a.pid)" in said


async def test_discovery_names_the_web_front_door_and_tokens_hold_everywhere(
    dev: DevProcess,
) -> None:
    front_door = f"http://localhost:{dev.web_port}"
    async with aiohttp.ClientSession() as session:
        for zone in ("a", "b"):
            url = f"{dev.url('auth', zone)}/.well-known/openid-configuration"
            async with session.get(url) as response:
                discovery = await response.json()
            assert discovery["issuer"] == front_door
            assert discovery["jwks_uri"] == f"{front_door}/.well-known/jwks.json"
        status, login = await _login(session, dev.url("auth", "a"), dev.demo()["password"])
        assert status == 200, login
        token = login["token"]["token"]
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["iss"] == front_door
        bearer = {"Authorization": f"Bearer {token}"}
        checks = [
            ("POST", f"{dev.url('auth', 'b')}/v1/tokens/renew"),
            ("GET", f"{dev.url('enrolment', 'a')}/v1/practices/demo"),
            ("GET", f"{dev.url('enrolment', 'b')}/v1/practices/demo"),
            ("GET", f"{dev.url('certs', 'a')}/v1/practices/demo/certificates"),
            ("GET", f"{dev.url('certs', 'b')}/v1/practices/demo/certificates"),
        ]
        for method, url in checks:
            async with session.request(method, url, headers=bearer) as response:
                assert response.status == 200, (url, await response.text())


def test_a_second_tweestap_dev_on_the_same_folder_is_refused(dev: DevProcess) -> None:
    second = DevProcess(dev.var, dev.offset)
    second.start(banner=False)
    assert second.process is not None
    assert second.process.wait(60) == 2
    assert dev.process is not None
    assert f"another `tweestap dev` (pid {dev.process.pid}) runs on {dev.var}" in second.output()
    assert (dev.var / "run" / "control.json").exists(), "the first one's files stay"


def test_the_pid_files_name_this_checkouts_processes(dev: DevProcess) -> None:
    run = dev.var / "run"
    pid = int((run / "auth-a.pid").read_text())
    port = dev.port(SERVICES["auth"].default_port("a"))
    assert ports.listeners([port]) == {port: pid}
    web = int((run / "web.pid").read_text())
    assert ports.listeners([dev.web_port]) == {dev.web_port: web}
    mark = len(dev.lines)

    subprocess.run(["sh", "-c", f"kill -9 $(cat {run}/auth-a.pid)"], check=True)

    dev.wait_for("auth zone a exited (signal 9); restarting in", since=mark)
    dev.wait_for("auth zone a restarted (pid", since=mark)
    assert int((run / "auth-a.pid").read_text()) != pid
    assert psutil.Process(int((run / "auth-b.pid").read_text())).is_running()


def test_zone_down_and_up_twice(dev: DevProcess) -> None:
    """Before: the second ``down`` printed a traceback in the deployment's terminal and "no
    `tweestap dev` answers" (exit 2)."""
    mark = len(dev.lines)
    first = dev.command("zone", "down", "a")
    again = dev.command("zone", "down", "a")
    assert first.returncode == 0, first.stderr
    assert "zone a: PostgreSQL stopped" in first.stdout
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "zone a is already down"

    up = dev.command("zone", "up", "a")
    up_again = dev.command("zone", "up", "a")
    assert up.returncode == 0, up.stderr
    assert "zone a: auth, enrolment, certs, notifier ready" in up.stdout
    assert up_again.returncode == 0 and up_again.stdout.strip() == "zone a is already up"
    assert "Traceback" not in dev.output(mark)


def test_the_control_endpoint_lets_in_only_who_may_read_var_run(dev: DevProcess) -> None:
    port = dev.port(DevSettings().control_port)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/zones/a/down", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - our own local endpoint
    assert refused.value.code == 401
    assert (dev.var / "run" / "control-token").stat().st_mode & 0o077 == 0


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match[1]


async def test_the_web_logs_failed_logins_and_the_lockout(dev: DevProcess) -> None:
    """Before: ``var/logs/web.log`` stayed empty."""
    web = f"http://127.0.0.1:{dev.web_port}"
    statuses = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        for _ in range(6):
            async with session.get(f"{web}/login") as page:
                token = _csrf(await page.text())
            form = {"csrf": token, "practice": "demo", "username": "nobody", "password": "x"}
            async with session.post(f"{web}/login", data=form) as response:
                statuses.append(response.status)
    assert statuses == [400, 400, 400, 400, 400, 429]
    lines = [
        json.loads(line)
        for line in (dev.var / "logs" / "web.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(line["message"].startswith("web ") and "version" in line for line in lines)
    refused = [line for line in lines if line["message"].startswith("POST /login answered")]
    assert [line["status"] for line in refused][-6:] == statuses
    assert all(line["service"] == "web" and "zone" not in line for line in refused)
    assert "nobody" not in json.dumps(lines), "no form values in the log"


async def test_a_changed_password_and_a_lockout_are_said_and_reset_admin_rescues(
    dev: DevProcess,
) -> None:
    """Before: the next banner and demo.json kept the first password, whose login then
    counted toward the lockout; only `make clean` rescued a locked demo administrator."""
    first = dev.demo()["password"]
    chosen = "Groene-Ui-Zingt-Om-Drie-Uur-7"
    auth_a = dev.url("auth", "a")
    async with aiohttp.ClientSession() as session:
        status, login = await _login(session, auth_a, first)
        assert status == 200, login
        bearer = {"Authorization": f"Bearer {login['token']['token']}", **JSON}
        change = {"current_password": first, "new_password": chosen}
        async with session.post(f"{auth_a}/v1/password", json=change, headers=bearer) as r:
            assert r.status == 200, await r.text()
        answers = [(await _login(session, auth_a, first))[0] for _ in range(6)]
        assert answers == [401, 401, 401, 401, 401, 429]

    # Ctrl-C's SIGTERM twin: everything stops, and it says so last.
    assert dev.stop() == 0
    assert dev.lines[-1].startswith("tweestap dev stopped"), dev.output()
    assert not list((dev.var / "run").glob("*.pid"))
    mark = len(dev.lines)
    dev.start()

    banner = dev.output(mark)
    assert first not in banner, "the first password is not offered"
    assert "the password was changed through Tweestap" in banner
    assert re.search(r"Locked in zone a(, b)? until", banner), banner
    assert f"dev reset-admin --var {dev.var}" in banner
    kept = dev.demo()
    assert kept["password"] is None and "reset-admin" in kept["note"]

    reset = dev.command("dev", "reset-admin")

    assert reset.returncode == 0, reset.stderr
    new = reset.stdout.split("password: ", 1)[1].split()[0]
    assert dev.demo()["password"] == new
    assert "unlocked in zone a, b" in reset.stdout
    async with aiohttp.ClientSession() as session:
        for zone in ("a", "b"):
            status, login = await _login(session, dev.url("auth", zone), new)
            assert status == 200 and login["next"] == "done", (zone, login)
