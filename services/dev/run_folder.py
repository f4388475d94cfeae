"""``var/run/``: what a running ``tweestap dev`` leaves for the commands beside it.

``NAME.pid`` for every process it started (``auth-a.pid`` … ``web.pid``, ``broker.pid``) and
for itself (``tweestap-dev.pid``), so that one of them can be signalled without touching
another checkout's processes (``kill -9 $(cat var/run/auth-a.pid)``); ``control.json`` (where
its control endpoint listens) and ``control-token`` (0600: what a command sends to be let
in), so that ``tweestap zone`` and ``tweestap dev reset-admin`` find it by themselves; and
``auth-Z.json`` (0600: auth's settings of zone Z, keys included), so that ``tweestap client``
registers in the running deployment with nothing copied. A stopped ``tweestap dev`` removes
them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from services.auth.settings import AuthSettings

DEV = "tweestap-dev"


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    def pid_file(self, name: str) -> Path:
        return self.path / f"{name}.pid"

    def write_pid(self, name: str, pid: int) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.pid_file(name).write_text(f"{pid}\n")

    def pids(self) -> dict[int, str]:
        """``pid → name`` of every pid file here."""
        found: dict[int, str] = {}
        for file in self.path.glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                found[int(file.read_text().strip())] = file.stem
        return found

    def running(self) -> bool:
        """Whether a process of the deployment here is alive (``tweestap dev`` itself or one
        it started)."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, 0)
                return True
        return False

    def start(self, control_port: int) -> str:
        """Written by a starting ``tweestap dev``: its pid, its control port and a new token
        (returned) for its control endpoint; leftovers of a run that did not stop go."""
        self.clear()
        self.path.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        secret = self.path / "control-token"
        secret.touch(mode=0o600)
        secret.write_text(token)
        self.write_pid(DEV, os.getpid())
        (self.path / "control.json").write_text(
            json.dumps({"pid": os.getpid(), "control_port": control_port})
        )
        return token

    def write_settings(self, name: str, settings: BaseSettings) -> None:
        """``settings`` (secrets in clear: the file is 0600) for a command beside it."""
        self.path.mkdir(parents=True, exist_ok=True)
        file = self.path / f"{name}.json"
        file.touch(mode=0o600)
        file.chmod(0o600)
        values = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in settings.model_dump().items()
        }
        file.write_text(json.dumps(values, default=str))

    def auth_settings(self, zone: str) -> AuthSettings | None:
        """Auth's settings of ``zone`` of the deployment running here (``tweestap dev``, or a
        test's); None when none runs (no settings file, or none of its processes is alive)."""
        file = self.path / f"auth-{zone}.json"
        if not self.running():
            return None
        try:
            values = json.loads(file.read_text())
        except (OSError, ValueError):
            return None
        from services.auth.settings import AuthSettings

        return AuthSettings.model_validate(values)

    def clear(self) -> None:
        for file in [*self.path.glob("*.pid"), *self.path.glob("auth-*.json")]:
            file.unlink(missing_ok=True)
        for file in [self.path / "control.json"]:
            file.unlink(missing_ok=True)
        (self.path / "control-token").unlink(missing_ok=True)

    def control(self) -> tuple[int, str] | None:
        """The control port and token of the ``tweestap dev`` running on this folder, if
        it wrote them (None: none did, or they cannot be read)."""
        try:
            state = json.loads((self.path / "control.json").read_text())
            token = (self.path / "control-token").read_text().strip()
            return int(state["control_port"]), token
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running_dev(self) -> int | None:
        """The pid of another ``tweestap dev`` still running on this folder, or None."""
        try:
            pid = int(self.pid_file(DEV).read_text().strip())
        except (OSError, ValueError):
            return None
        if pid == os.getpid() or not _alive(pid):
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return pid
        # A reused pid is no `tweestap dev`.
        ours = any(b"tweestap" in part or b"services.cli" in part for part in command)
        return pid if ours and b"dev" in command else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
