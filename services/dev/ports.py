"""The ports a local deployment listens on, checked before anything starts: a port that is
taken is said at once, with what wanted it and what holds it, instead of a service failing to
bind over and over until its readiness times out."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.dev.run_folder import RunFolder

#: How a service's log says that it could not bind (asyncio's and aiohttp's wording).
_BIND_FAILED = re.compile(r"address already in use", re.IGNORECASE)
_BIND_ADDRESS = re.compile(r"bind on address \('[^']*', (\d+)\)")


@dataclass(frozen=True)
class Wanted:
    """A port the deployment listens on, and what listens there (``auth zone a``)."""

    port: int
    what: str


@dataclass(frozen=True)
class Taken:
    wanted: Wanted
    #: ``pid N (command line)`` of the process listening there, when it can be told.
    holder: str | None = None
    #: That process is one of this deployment's own, left over from a run that did not stop.
    left_over: bool = False

    def line(self) -> str:
        by = f" by {self.holder}" if self.holder else ""
        left = " — left over from a `tweestap dev` of this folder" if self.left_over else ""
        return f"port {self.wanted.port} ({self.wanted.what}) is taken{by}{left}"


class PortTaken(Exception):
    """Ports the deployment needs are taken; the message says which, by what, and what to do."""

    def __init__(self, taken: list[Taken], run_folder: Path | None = None) -> None:
        self.taken = taken
        lines = [t.line() for t in taken]
        if any(t.left_over for t in taken) and run_folder is not None:
            lines.append(f"stop those first: kill $(cat {run_folder}/*.pid)")
        lines.append(
            "Stop what holds it, or run this deployment on other ports "
            "(e.g. TWEESTAP_DEV_PORT_OFFSET=10000 make run). Nothing was started."
        )
        super().__init__("\n".join(lines))


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind ``host:port`` now, as the services bind (SO_REUSEADDR:
    a port whose old connections linger in TIME_WAIT is free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def listeners(ports: Iterable[int]) -> dict[int, int]:
    """``port → pid`` of the processes listening on ``ports`` (those this user may see)."""
    wanted = set(ports)
    try:
        import psutil

        connections = psutil.net_connections(kind="tcp")
    except (ImportError, OSError, RuntimeError):
        return {}
    found: dict[int, int] = {}
    for conn in connections:
        if conn.status == "LISTEN" and conn.laddr and conn.laddr.port in wanted and conn.pid:
            found[conn.laddr.port] = conn.pid
    return found


def describe(pid: int) -> str:
    """``pid N (its command line)``, shortened."""
    try:
        import psutil

        command = " ".join(psutil.Process(pid).cmdline()) or psutil.Process(pid).name()
    except Exception:  # gone, or not ours to look at
        return f"pid {pid}"
    if len(command) > 100:
        command = command[:97] + "…"
    return f"pid {pid} ({command})"


def check(wanted: Iterable[Wanted], run: RunFolder | None = None) -> None:
    """Raise :class:`PortTaken` naming every port of ``wanted`` that cannot be bound; a
    listener whose pid ``run`` wrote down is left over from a run that did not stop."""
    taken = [w for w in wanted if not bindable(w.port)]
    if not taken:
        return
    pids = listeners(w.port for w in taken)
    own = run.pids() if run is not None else {}
    raise PortTaken(
        [
            Taken(w, describe(pids[w.port]) if w.port in pids else None, pids.get(w.port) in own)
            for w in taken
        ],
        run.path if run is not None else None,
    )


def bind_failure(log_text: str) -> int | None:
    """The port a service's log says it could not bind, or None (0: one it does not name)."""
    if not _BIND_FAILED.search(log_text):
        return None
    match = _BIND_ADDRESS.search(log_text)
    return int(match[1]) if match else 0
