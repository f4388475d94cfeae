"""``tweestap dev`` (``make run``): everything on one machine.

Starts an embedded PostgreSQL per zone, the embedded broker, the SMTP and SMS sinks, and both
zones of every service as child processes; bootstraps a demo practice on the first start and
prints how to log in. Ctrl-C stops everything; the next start reuses ``var/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from aiohttp import web

from services.auth.bootstrapping import bootstrap_practice
from services.auth.settings import AuthSettings
from services.dev.infra import Broker, Postgres, wait_for_port, with_timeout_terminate
from services.dev.sinks import sms_sink_app, start_smtp_sink
from services.registry import SERVICES
from shared import trust
from shared.db import ensure_database
from shared.sealing import generate_key
from shared.settings import OPS_PORT_OFFSET

BROKER_PORT = 9092
SMTP_PORT = 2525
SMS_PORT = 2526
ZONES = ("a", "b")


def _secret_file(path: Path, make: str) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make)
        path.chmod(0o600)
    return path.read_text().strip()


def _start_sms_sink(folder: Path) -> None:
    def serve() -> None:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(sms_sink_app(folder))
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", SMS_PORT).start())
        loop.run_forever()

    threading.Thread(target=serve, daemon=True, name="sms-sink").start()


def run(var: str) -> int:
    root = Path(var).resolve()
    root.mkdir(parents=True, exist_ok=True)
    sealing = _secret_file(root / "dev" / "sealing-keys", f"dev1:{generate_key()}")
    bsn_key = _secret_file(root / "dev" / "bsn-key", secrets.token_urlsafe(32))
    # The deployment's trust key: auth signs its key announcements, every service checks them.
    trust_private = _secret_file(root / "dev" / "trust-private-key", trust.generate()[0])
    trust_public = trust.public_half(trust_private)
    print("starting PostgreSQL (one per zone) and the broker …", flush=True)
    postgres = {zone: Postgres(root / f"pg-{zone}") for zone in ZONES}
    broker = Broker(BROKER_PORT, root / "logs" / "broker.log")
    broker.start()
    smtp = start_smtp_sink(root / "mail", "127.0.0.1", SMTP_PORT)
    _start_sms_sink(root / "sms")
    children: list[subprocess.Popen[bytes]] = []
    try:
        for zone in ZONES:
            for name in SERVICES:
                dsn = postgres[zone].socket_dsn(name)
                asyncio.run(ensure_database(dsn))
                env = {
                    **os.environ,
                    "TWEESTAP_ZONE": zone,
                    "TWEESTAP_DATABASE_URL": dsn,
                    "TWEESTAP_KAFKA_BOOTSTRAP": broker.bootstrap,
                    "TWEESTAP_SEALING_KEYS": sealing,
                    "TWEESTAP_BSN_KEY": bsn_key,
                    "TWEESTAP_TRUST_PUBLIC_KEYS": trust_public,
                    "TWEESTAP_SMTP_PORT": str(SMTP_PORT),
                    "TWEESTAP_SMS_URL": f"http://127.0.0.1:{SMS_PORT}/sms",
                }
                if name == "auth":
                    env["TWEESTAP_TRUST_PRIVATE_KEY"] = trust_private
                log = (root / "logs" / f"{name}-{zone}.log").open("ab")
                children.append(
                    subprocess.Popen(  # noqa: S603 - our own command line
                        [sys.executable, "-m", "services.cli", "serve", name, "--zone", zone],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        for zone in ZONES:
            for spec in SERVICES.values():
                wait_for_port("127.0.0.1", spec.default_port(zone), timeout=60)
        demo = _demo(root, postgres["a"].socket_dsn("auth"), sealing)
        _banner(demo, root)
        _wait_for_interrupt()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup short
        print("\nstopping …", flush=True)
        for child in children:
            child.send_signal(signal.SIGINT)
        for child in children:
            with_timeout_terminate(child)
        smtp.stop()
        broker.stop()
        for pg in postgres.values():
            pg.stop()
    return 0


def _demo(root: Path, dsn: str, sealing: str) -> dict[str, str]:
    path = root / "dev" / "demo.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    password = secrets.token_urlsafe(15)
    settings = AuthSettings(zone="a", database_url=dsn, sealing_keys=sealing)
    employee = asyncio.run(
        bootstrap_practice(
            settings,
            "demo",
            "Demo Fysiotherapie",
            "admin",
            "Demo Admin",
            password,
            "praktijk@demo.tweestap.test",
        )
    )
    data = {"practice": "demo", "username": "admin", "password": password, "employee": employee}
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


def _banner(demo: dict[str, str], root: Path) -> None:
    lines = ["", "Tweestap is running.", ""]
    for zone in ZONES:
        for name, spec in SERVICES.items():
            port = spec.default_port(zone)
            lines.append(
                f"  {name:<10} zone {zone}: http://127.0.0.1:{port}"
                f"  (metrics, probes: http://127.0.0.1:{port + OPS_PORT_OFFSET})"
            )
    lines += [
        f"  broker       127.0.0.1:{BROKER_PORT}",
        f"  SMTP sink    127.0.0.1:{SMTP_PORT} → {root / 'mail'}",
        f"  SMS sink     http://127.0.0.1:{SMS_PORT}/sms → {root / 'sms'}",
        f"  logs         {root / 'logs'}",
        "",
        f"Demo practice '{demo['practice']}', administrator '{demo['username']}', "
        f"password '{demo['password']}'",
        "",
        "  curl -s localhost:8101/v1/login -H 'Content-Type: application/json' \\",
        f'    -d \'{{"practice":"demo","username":"admin","password":"{demo["password"]}"}}\'',
        "",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
