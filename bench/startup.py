"""``tweestap bench startup``: seconds from ``tweestap dev`` (what ``make run`` starts) to its
banner, which it prints once the demo administrator can log in in both zones; on a fresh folder
(PostgreSQL initialised, the demo practice made) and on a restart that reuses it. Right after
each banner the banner's login command is tried in both zones: it must answer 200.

Uses the fixed ports of ``tweestap dev``: stop a running one first."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.harness import log, report, target
from services.registry import SERVICES

STARTUP_S = 15.0
BANNER = "Tweestap is running."
#: How long a start may take before the run counts as failed.
GIVE_UP_S = 180.0


def _login_status(zone: str, demo: dict[str, str]) -> int:
    body = {key: demo[key] for key in ("practice", "username", "password")}
    port = SERVICES["auth"].default_port(zone)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/login",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status: int = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status


def start_once(var: Path) -> tuple[float, dict[str, int]]:
    """Start ``tweestap dev`` on ``var``: seconds to the banner, and each zone's answer to the
    banner's login tried at once; then stop it (Ctrl-C, as a user would)."""
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "services.cli", "dev", "--var", str(var)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    give_up = threading.Timer(GIVE_UP_S, process.kill)
    give_up.start()
    try:
        assert process.stdout is not None
        seconds = None
        for line in process.stdout:
            if line.strip() == BANNER:
                seconds = time.monotonic() - started
                break
        if seconds is None:
            raise RuntimeError(f"tweestap dev exited without its banner ({process.wait()})")
        demo = json.loads((var / "dev" / "demo.json").read_text())
        logins = {zone: _login_status(zone, demo) for zone in ("a", "b")}
    finally:
        give_up.cancel()
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    return seconds, logins


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tweestap bench startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="fresh starts (then one restart)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="tweestap-bench-startup-", dir="/tmp"))
    fresh: list[float] = []
    restart: list[float] = []
    logins: list[dict[str, int]] = []
    try:
        for run in range(args.runs):
            var = folder / f"run{run}"
            seconds, answered = start_once(var)
            log(f"fresh start {run + 1}: banner after {seconds:.1f} s, logins {answered}")
            fresh.append(round(seconds, 2))
            logins.append(answered)
        seconds, answered = start_once(folder / f"run{args.runs - 1}")
        log(f"restart: banner after {seconds:.1f} s, logins {answered}")
        restart.append(round(seconds, 2))
        logins.append(answered)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    all_ok = all(status == 200 for answered in logins for status in answered.values())
    report(
        "startup",
        {"runs": args.runs, "command": "tweestap dev", "until": "banner"},
        {
            "fresh_to_banner_s": fresh,
            "restart_to_banner_s": restart,
            "first_login_status": logins,
            "first_login_ok_in_both_zones": all_ok,
        },
        {},
        {"fresh_to_banner_s": target(max(fresh), STARTUP_S, at_least=False)},
        note="Services, PostgreSQL and the broker start on this machine's cores; other "
        "load on the machine lengthens the start.",
    )
    return 0 if all_ok else 1
