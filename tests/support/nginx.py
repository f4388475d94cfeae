"""Debian's nginx as the deployment's TLS terminator for the card login (ADR 0013): TLS with
client-certificate verification against the UZI test CAs (``ssl_verify_client optional``; a
failed verification goes to the web as its verdict, not as nginx's bare 400), the verified
certificate passed to the web in ``X-SSL-Client-Cert`` (``$ssl_client_escaped_cert``) and the
verdict in ``X-SSL-Client-Verify``; whatever the browser sent in those headers is replaced.
The configuration ``tweestap dev cards`` writes (:func:`card_kit.nginx_config`)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from services.dev import card_kit

NGINX_PATHS = ("/usr/sbin/nginx", "/usr/bin/nginx")


def nginx() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in NGINX_PATHS if Path(path).exists()), None
    )


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx ended ({process.returncode}): {log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nginx is not listening on {port}: {log.read_text()}")


@asynccontextmanager
async def terminator(
    folder: Path, port: int, upstream: str, server_cert: Path, server_key: Path, client_cas: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """nginx running :func:`card_kit.nginx_config` in the foreground, stopped (TERM) at the end."""
    binary = nginx()
    assert binary is not None
    text = card_kit.nginx_config(folder, port, upstream, server_cert, server_key, client_cas)
    conf = await asyncio.to_thread(card_kit.prepare_nginx, folder, text)
    log = folder / "stderr.log"
    process = subprocess.Popen(  # noqa: ASYNC220 (started once, waited for below)
        [binary, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        await asyncio.to_thread(_wait_listening, port, process, log)
        yield process
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
