"""Debian's nginx as the deployment's TLS terminator for the card login (ADR 0013): TLS with
client-certificate verification against the UZI test CAs (``ssl_verify_client optional``; a
failed verification goes to the web as its verdict, not as nginx's bare 400), the verified
certificate passed to the web in ``X-SSL-Client-Cert`` (``$ssl_client_escaped_cert``) and the
verdict in ``X-SSL-Client-Verify``; whatever the browser sent in those headers is replaced.
The same configuration the README shows for trying it locally (:func:`config`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

NGINX_PATHS = ("/usr/sbin/nginx", "/usr/bin/nginx")


def nginx() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in NGINX_PATHS if Path(path).exists()), None
    )


def config(
    folder: Path,
    port: int,
    upstream: str,
    server_cert: Path,
    server_key: Path,
    client_cas: Path,
) -> str:
    """An nginx.conf (run with ``-p folder``) terminating TLS on 127.0.0.1:``port`` for the
    web at ``upstream`` (``127.0.0.1:8100``)."""
    temp = folder / "temp"
    # As root (a CI container), workers would run as nobody, who cannot enter a test's folder.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    proxy = f"""            proxy_pass http://{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            # Always set (empty: not passed), so a browser's own header never gets through.
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
"""
    return f"""{user}worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        # The UZI register's and PKIoverheid's CAs: browsers offer only cards of these.
        ssl_client_certificate {client_cas};
        ssl_verify_client optional;
        ssl_verify_depth 3;
        # A certificate that fails verification (expired, wrong CA) would get nginx's bare 400
        # page; the web says why instead (the verdict, FAILED:…, in X-SSL-Client-Verify).
        error_page 495 = @web;
        location / {{
{proxy}        }}
        location @web {{
{proxy}        }}
    }}
}}
"""


def _prepare(folder: Path, conf: Path, text: str) -> None:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "temp" / name).mkdir(parents=True, exist_ok=True)
    conf.write_text(text)


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
    """nginx running :func:`config` in the foreground, stopped (TERM) at the end."""
    binary = nginx()
    assert binary is not None
    conf = folder / "nginx.conf"
    text = config(folder, port, upstream, server_cert, server_key, client_cas)
    await asyncio.to_thread(_prepare, folder, conf, text)
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
