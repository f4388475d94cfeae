"""``tweestap dev`` (``make run``): everything on one machine.

Starts the local deployment (services/dev/deployment.py: an embedded PostgreSQL per zone, the
embedded broker, the SMTP and SMS sinks, and both zones of every service as supervised child
processes), bootstraps a demo practice on the first start and prints how to log in. A service
that dies is reported and restarted; ``tweestap zone down|up Z`` takes a zone down and up
through the control endpoint. Ctrl-C stops everything; the next start reuses ``var/``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from services.dev.control import ControlServer
from services.dev.deployment import Deployment, DevSettings

DEMO_PRACTICE = "demo"
DEMO_USERNAME = "admin"


def _say(message: str) -> None:
    print(message, flush=True)


def run(var: str) -> int:
    root = Path(var).resolve()
    settings = DevSettings()
    deployment = Deployment(root, ports="fixed", echo=_say, settings=settings)
    try:
        control = ControlServer(deployment, settings.control_port)
    except OSError as error:
        print(
            f"tweestap dev: control port 127.0.0.1:{settings.control_port}: {error.strerror} "
            "(is another `tweestap dev` running? else set TWEESTAP_DEV_CONTROL_PORT)",
            file=sys.stderr,
        )
        return 2
    # Ctrl-C and SIGTERM stop everything, also when started in the background (where a shell
    # hands SIGINT down ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    print("starting PostgreSQL (one per zone), the broker and both zones …", flush=True)
    try:
        deployment.start()
        control.start()
        demo = _demo(deployment)
        _banner(deployment, demo, control.port)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nstopping …", flush=True)
        control.stop()
        deployment.stop()
    return 0


def _demo(deployment: Deployment) -> dict[str, str]:
    """The demo practice, made on the first start; its administrator can log in in both zones
    when this returns (the banner's first command works)."""
    path = deployment.root / "dev" / "demo.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    password = secrets.token_urlsafe(15)
    employee = asyncio.run(
        deployment.bootstrap(
            DEMO_PRACTICE,
            DEMO_USERNAME,
            password,
            name="Demo Fysiotherapie",
            email="praktijk@demo.tweestap.test",
        )
    )
    data = {
        "practice": DEMO_PRACTICE,
        "username": DEMO_USERNAME,
        "password": password,
        "employee": employee,
    }
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


def _banner(deployment: Deployment, demo: dict[str, str], control_port: int) -> None:
    lines = ["", "Tweestap is running.", ""]
    for zone in deployment.zones:
        for name in deployment.services:
            lines.append(
                f"  {name:<10} zone {zone}: {deployment.url(name, zone)}"
                f"  (metrics, probes: {deployment.ops_url(name, zone)})"
            )
    root = deployment.root
    auth_a = deployment.url("auth", deployment.zones[0])
    lines += [
        f"  web          http://localhost:{deployment.web_port} (log in in a browser)",
        f"  broker       {deployment.broker_bootstrap}",
        f"  SMTP sink    127.0.0.1:{deployment.smtp_port} → {deployment.mail_folder}",
        f"  SMS sink     {deployment.sms_url} → {deployment.sms_folder}",
        f"  logs         {root / 'logs'}",
        f"  control      127.0.0.1:{control_port}: tweestap zone down a | tweestap zone up a",
        "",
        f"Demo practice '{demo['practice']}', administrator '{demo['username']}', "
        f"password '{demo['password']}'",
        "",
        f"  curl -s {auth_a}/v1/login -H 'Content-Type: application/json' \\",
        f'    -d \'{{"practice":"{demo["practice"]}","username":"{demo["username"]}",'
        f'"password":"{demo["password"]}"}}\'',
        "",
        "A service that exits is restarted (and said here). Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
