"""A zone cut off from the broker (and so from the other zone, whose events cross only the
bus), for real: the zone's service processes are moved into a cgroup (v2) of their own, and an
nftables rule drops every packet those processes send to the broker's port. Connections
already open hang (no ACK comes back), new ones time out, exactly as behind a broken link; the
clients still reach both zones. Needs root, the cgroup2 hierarchy at
``/sys/fs/cgroup/unified`` (or ``/sys/fs/cgroup``) and ``nft`` (Debian's nftables; see
scripts/system-packages.sh). Slow links are left out: this kernel has no ``sch_netem``.

A process the supervisor restarts during the cut starts outside the cgroup; ``follow`` moves
it in within ``FOLLOW_SECONDS``, long before it has imported enough to reach the broker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

FOLLOW_SECONDS = 0.1
ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


def cgroup2_root() -> Path | None:
    """Where the cgroup2 hierarchy is mounted (a hybrid host: ``unified``), if anywhere."""
    for root in ROOTS:
        if (root / "cgroup.procs").exists() and (root / "cgroup.subtree_control").exists():
            return root
    return None


def unsupported() -> str | None:
    """Why partitions cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("nft") is None:
        return "nft (nftables) is not installed"
    if cgroup2_root() is None:
        return "no cgroup2 hierarchy"
    return None


def _nft(*args: str) -> str:
    nft = shutil.which("nft") or "/usr/sbin/nft"
    done = subprocess.run(  # noqa: S603 - our own rules
        [nft, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"nft {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a service's workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


class Partitions:
    """Cuts zones off from the broker at ``broker_port``; ``run_id`` names the cgroups."""

    def __init__(self, broker_port: int, run_id: str) -> None:
        root = cgroup2_root()
        if root is None:
            raise RuntimeError("no cgroup2 hierarchy")
        self.root, self.broker_port, self.run_id = root, broker_port, run_id
        # nft resolves a cgroupv2 path below /sys/fs/cgroup.
        self.prefix = root.relative_to(Path("/sys/fs/cgroup"))
        self.table = f"tweestap_chaos_{run_id}"
        self._handles: dict[str, str] = {}

    def _group(self, zone: str) -> Path:
        return self.root / f"tweestap-chaos-{self.run_id}-{zone}"

    def cut(self, zone: str, pids: Iterable[int]) -> None:
        group = self._group(zone)
        group.mkdir(exist_ok=True)
        self.follow(zone, pids)
        _nft("add", "table", "inet", self.table)
        _nft(f"add chain inet {self.table} out {{ type filter hook output priority 0 ; }}")
        path = str(self.prefix / group.name)
        out = _nft(
            "--echo",
            "--handle",
            "add",
            "rule",
            "inet",
            self.table,
            "out",
            "socket",
            "cgroupv2",
            "level",
            "1",  # the group is right below the hierarchy's root
            f'"{path}"',
            "tcp",
            "dport",
            str(self.broker_port),
            "drop",
        )
        self._handles[zone] = out.rsplit("# handle", 1)[-1].strip()

    def follow(self, zone: str, pids: Iterable[int]) -> None:
        """Move ``pids`` (and their children) into the zone's cgroup."""
        procs = self._group(zone) / "cgroup.procs"
        for pid in pids:
            for one in descendants(pid):
                with contextlib.suppress(OSError):
                    procs.write_text(str(one))

    def mend(self, zone: str) -> None:
        handle = self._handles.pop(zone, None)
        if handle is not None:
            with contextlib.suppress(RuntimeError):
                _nft("delete", "rule", "inet", self.table, "out", "handle", handle)
        group = self._group(zone)
        if group.exists():
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self.root / "cgroup.procs").write_text(pid)
            with contextlib.suppress(OSError):
                group.rmdir()

    def mend_all(self) -> None:
        for zone in list(self._handles):
            self.mend(zone)
        with contextlib.suppress(RuntimeError):
            if not self._handles:
                _nft("delete", "table", "inet", self.table)

    @property
    def cut_zones(self) -> list[str]:
        return sorted(self._handles)
