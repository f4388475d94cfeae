"""The control endpoint answers every request (a failed operation is a problem+json 5xx, not a
dropped connection), lets in only the bearer of its token, and ``tweestap zone`` says plainly
when no ``tweestap dev`` runs; the banner says of the demo administrator only what is true."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.dev import demo as demos
from services.dev import ports
from services.dev.control import ControlServer
from services.dev.infra import free_port
from services.dev.run_folder import RunFolder

ROOT = Path(__file__).resolve().parents[2]


class BrokenZones:
    zones: tuple[str, ...] = ("a", "b")

    def zone_down(self, zone: str) -> list[str]:
        raise subprocess.CalledProcessError(1, ["pg_ctl", "stop"])

    def zone_up(self, zone: str) -> list[str]:
        return [f"zone {zone} is already up"]


@pytest.fixture
def control() -> Iterator[ControlServer]:
    server = ControlServer(BrokenZones(), 0, token="geheim")
    server.start()
    yield server
    server.stop()


def _post(control: ControlServer, path: str, token: str | None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{control.port}{path}", method="POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_failed_operation_is_answered(control: ControlServer) -> None:
    status, body = _post(control, "/zones/a/down", "geheim")
    assert status == 500
    assert body["type"].endswith("/operation-failed")
    assert body["detail"].startswith("CalledProcessError: Command '['pg_ctl', 'stop']'")
    assert _post(control, "/zones/a/up", "geheim") == (
        200,
        {"zone": "a", "action": "up", "said": ["zone a is already up"]},
    )


def test_only_the_bearer_of_the_token_gets_in(control: ControlServer) -> None:
    for token in (None, "", "geheim2"):
        status, body = _post(control, "/zones/a/up", token)
        assert status == 401 and body["type"].endswith("/unauthorized")


def test_reset_admin_without_a_demo_is_not_found(control: ControlServer) -> None:
    status, body = _post(control, "/demo/reset-admin", "geheim")
    assert status == 404 and body["detail"] == "this deployment has no demo administrator"


def _zone_cli(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "zone", *args, "--var", str(var)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_zone_says_when_no_tweestap_dev_runs(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "control.json").write_text(json.dumps({"control_port": port}))
    (tmp_path / "run" / "control-token").write_text("x")
    done = _zone_cli(tmp_path, "down", "a")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"tweestap zone: no `tweestap dev` runs for {tmp_path}/ (nothing answers on "
        f"127.0.0.1:{port}): start it first (make run)"
    )


def test_zone_finds_the_deployment_and_its_token_in_var_run(
    tmp_path: Path, control: ControlServer
) -> None:
    run = RunFolder(tmp_path / "run")
    token = run.start(control.port)
    control.token = token
    done = _zone_cli(tmp_path, "up", "b")
    assert (done.returncode, done.stdout) == (0, "zone b is already up\n"), done.stderr
    assert (run.path / "control-token").stat().st_mode & 0o077 == 0
    run.clear()
    assert not list(run.path.iterdir())


DEMO = demos.Demo("demo", "admin", "e1", "Eerste-Wachtwoord-1")
URL = "http://127.0.0.1:8101"
RESET = ".venv/bin/tweestap dev reset-admin"


def _state(zone: str, logs_in: bool = True, locked: bool = False) -> demos.AdminState:
    until = datetime(2026, 12, 1, 14, 5, tzinfo=UTC) if locked else None
    return demos.AdminState(zone, logs_in, False, until)


def test_the_banner_offers_a_password_that_logs_in() -> None:
    lines = demos.banner(DEMO, [_state("a"), _state("b")], URL, RESET)
    assert lines[0] == "Demo practice 'demo', administrator 'admin', password 'Eerste-Wachtwoord-1'"
    assert '"password":"Eerste-Wachtwoord-1"' in lines[-1]


def test_the_banner_does_not_offer_a_changed_password_or_a_locked_login() -> None:
    changed = demos.banner(DEMO, [_state("a", False), _state("b", False)], URL, RESET)
    assert not any("Eerste-Wachtwoord-1" in line for line in changed)
    assert "the password was changed through Tweestap" in changed[0]
    assert changed[-1].endswith(f"`{RESET}` sets a new password and unlocks.")
    locked = demos.banner(DEMO, [_state("a", locked=True), _state("b")], URL, RESET)
    assert not any("curl" in line for line in locked)
    assert "  Locked in zone a until 14:05:00 UTC (too many failed logins)." in locked


def test_demo_json_forgets_a_password_that_logs_in_nowhere(tmp_path: Path) -> None:
    path = tmp_path / "demo.json"
    demo = demos.Demo("demo", "admin", "e1", "Eerste-Wachtwoord-1")
    when = datetime(2026, 12, 1, 14, 5, tzinfo=UTC)
    demos.record(path, demo, [_state("a", False), _state("b", False)], when)
    kept = json.loads(path.read_text())
    assert kept["password"] is None
    assert kept["note"].startswith("The administrator's password was changed through Tweestap")
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_taken_port_is_said_with_what_holds_it(tmp_path: Path) -> None:
    taken = [
        ports.Taken(ports.Wanted(8101, "auth zone a"), "pid 7 (python3 -m http.server 8101)"),
        ports.Taken(ports.Wanted(9092, "the broker"), "pid 8 (tansu broker)", left_over=True),
    ]
    said = str(ports.PortTaken(taken, tmp_path / "run")).splitlines()
    assert said == [
        "port 8101 (auth zone a) is taken by pid 7 (python3 -m http.server 8101)",
        "port 9092 (the broker) is taken by pid 8 (tansu broker) — left over from a "
        "`tweestap dev` of this folder",
        f"stop those first: kill $(cat {tmp_path / 'run'}/*.pid)",
        "Stop what holds it, or run this deployment on other ports "
        "(e.g. TWEESTAP_DEV_PORT_OFFSET=10000 make run). Nothing was started.",
    ]


def test_a_service_log_names_the_port_it_could_not_bind() -> None:
    log = (
        "OSError: [Errno 98] error while attempting to bind on address ('127.0.0.1', 8101): "
        "address already in use"
    )
    assert ports.bind_failure(log) == 8101
    assert ports.bind_failure("OSError: [Errno 98] Address already in use") == 0
    assert ports.bind_failure('{"message": "auth 0.1.0 started"}') is None
