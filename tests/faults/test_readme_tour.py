"""The README's five-minute tour, run as a reader runs it: ``tweestap dev`` (what ``make run``
starts) on ports of its own (``TWEESTAP_DEV_PORT_OFFSET``), and the tour's blocks pasted in
order into one shell in a folder that looks like the repository (``scripts``, ``.venv``, ``var``),
the README's ports moved by the offset. Each command must succeed and print what its
``# →`` says."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.dev import ports
from services.dev.deployment import (
    FIXED_BROKER_PORT,
    FIXED_SMS_PORT,
    FIXED_SMTP_PORT,
    FIXED_WEB_PORT,
)
from services.dev.settings import DevSettings
from services.registry import SERVICES
from shared.settings import OPS_PORT_OFFSET
from tests.docs import readme

ROOT = readme.ROOT
BANNER_END = "Press Ctrl-C to stop."
#: The ports the README names: the web, the services and their operations listeners.
_SERVICE_PORTS = {SERVICES[s].default_port(z) for s in SERVICES for z in ("a", "b")}
README_PORTS = {FIXED_WEB_PORT, *_SERVICE_PORTS, *(p + OPS_PORT_OFFSET for p in _SERVICE_PORTS)}
FIXED_PORTS = [
    *README_PORTS,
    FIXED_BROKER_PORT,
    FIXED_SMTP_PORT,
    FIXED_SMS_PORT,
    DevSettings().control_port,
]
URL = re.compile(r"\b(localhost|127\.0\.0\.1):(\d{4})\b")


def _free_offset() -> int:
    """Every port free, below the ephemeral range and away from the documented 10000."""
    for _ in range(200):
        offset = random.randrange(11000, 23000, 100)
        if all(ports.bindable(port + offset) for port in FIXED_PORTS):
            return offset
    raise AssertionError("no free port offset")


def moved(text: str, offset: int) -> str:
    """``text`` with the README's ports moved by ``offset``."""

    def port(match: re.Match[str]) -> str:
        number = int(match[2])
        return f"{match[1]}:{number + offset}" if number in README_PORTS else match[0]

    return URL.sub(port, text)


class Dev:
    """``tweestap dev --var VAR`` as a child process, its output kept."""

    def __init__(self, var: Path, offset: int) -> None:
        self.lines: list[str] = []
        env = {**os.environ, "TWEESTAP_DEV_PORT_OFFSET": str(offset)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "dev", "--var", str(var)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, limit: float) -> None:
        deadline = time.monotonic() + limit
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)
                said = "\n".join(self.lines)
                raise AssertionError(f"no {text!r} from tweestap dev:\n{said}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A folder like the repository's, with a ``tweestap dev`` running on its ``var``."""
    for name in ("scripts", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    offset = _free_offset()
    dev = Dev(tmp_path / "var", offset)
    try:
        dev.wait_for(BANNER_END, 240)
        yield tmp_path, offset
    finally:
        dev.stop()


def test_the_readme_tour_runs_as_written(folder: tuple[Path, int]) -> None:
    cwd, offset = folder
    tour = [
        command
        for block in readme.shell_blocks()
        if block.tags == ("tour",)
        for command in readme.commands(block)
    ]
    script = ["set -euo pipefail"]
    for index, command in enumerate(tour):
        script += [f"echo '@@ {index}'", moved(command.text, offset)]
    script.append("echo '@@ end'")
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    took = time.monotonic() - started
    said: dict[int, str] = {}
    current: int | None = None
    for line in done.stdout.splitlines():
        if line.startswith("@@ "):
            mark = line[3:]
            current = None if mark == "end" else int(mark)
            said[current if current is not None else -1] = ""
        elif current is not None:
            said[current] += line + "\n"
    if done.returncode != 0:
        failed = max(said)
        command = tour[failed]
        raise AssertionError(
            f"README line {command.block.line}: {command.text}\nexit {done.returncode}:\n"
            f"{said[failed]}"
        )
    for index, command in enumerate(tour):
        missing = readme.unmet(command, said[index])
        assert missing is None, (
            f"README line {command.block.line}: {command.text}\nsays it prints {missing!r}, "
            f"printed:\n{said[index]}"
        )
    assert took < 90, f"the tour took {took:.0f} s: keep it to a few quick commands"
