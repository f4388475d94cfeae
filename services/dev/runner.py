"""``tweestap dev`` (``make run``): everything on one machine.

Starts the local deployment (services/dev/deployment.py: an embedded PostgreSQL per zone, the
embedded broker, the SMTP and SMS sinks, the web front end and both zones of every service as
supervised child processes), bootstraps a demo practice on the first start and prints how to
log in — only what is true: the demo administrator's password is checked against auth's
database first (services/dev/demo.py). A service that dies is reported and restarted;
``tweestap zone down|up Z`` and ``tweestap dev reset-admin`` reach it through the control
endpoint (found through ``var/run/``). Ctrl-C or SIGTERM stops everything and says so; the next
start reuses ``var/``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from services.dev import demo as demos
from services.dev import ports
from services.dev.control import ControlServer
from services.dev.deployment import Deployment, DevSettings, run_sync
from services.dev.run_folder import RunFolder
from shared.events import utcnow


def _say(message: str) -> None:
    print(message, flush=True)


def _fail(message: str) -> None:
    print(f"tweestap dev: {message}", file=sys.stderr, flush=True)


def run(var: str) -> int:
    root = Path(var).resolve()
    settings = DevSettings()
    deployment = Deployment(root, ports="fixed", echo=_say, settings=settings)
    run_folder = RunFolder(root / "run")
    other = run_folder.running_dev()
    if other is not None:
        _fail(f"another `tweestap dev` (pid {other}) runs on {root}: stop it first (Ctrl-C)")
        return 2
    control_port = settings.control_listen_port
    try:
        wanted = ports.Wanted(control_port, "the control endpoint of `tweestap zone`")
        ports.check([wanted, *deployment.wanted_ports()], run_folder)
        control = ControlServer(
            deployment,
            control_port,
            token=run_folder.start(control_port),
            reset_admin=lambda password: run_sync(demos.reset(deployment, password)),
        )
    except ports.PortTaken as taken:
        _fail(str(taken))
        return 2
    except OSError as error:
        _fail(f"control port 127.0.0.1:{control_port}: {error.strerror}")
        run_folder.clear()
        return 2
    # Ctrl-C and SIGTERM stop everything, also when started in the background (where a shell
    # hands SIGINT down ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    print("starting PostgreSQL (one per zone), the broker and both zones …", flush=True)
    code = 0
    try:
        deployment.start()
        control.start()
        _banner(deployment, control.port)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except ports.PortTaken as taken:
        _fail(str(taken).replace("Nothing was started.", "Stopped what had started."))
        code = 2
    except (TimeoutError, RuntimeError) as error:
        _fail(f"{error}\n(the logs are in {root / 'logs'})")
        code = 1
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nstopping …", flush=True)
        control.stop()
        deployment.stop()
        run_folder.clear()
        print(f"tweestap dev stopped (data kept in {root})", flush=True)
    return code


def _banner(deployment: Deployment, control_port: int) -> None:
    demo = run_sync(demos.ensure(deployment))
    states = run_sync(demos.check(deployment, demo))
    demo = demos.record(demos.demo_file(deployment.root), demo, states, utcnow())
    lines = ["", "Tweestap is running.", ""]
    for zone in deployment.zones:
        for name in deployment.services:
            lines.append(
                f"  {name:<10} zone {zone}: {deployment.url(name, zone)}"
                f"  (metrics, probes: {deployment.ops_url(name, zone)})"
            )
    root = deployment.root
    auth_a = deployment.url("auth", deployment.zones[0])
    tweestap = _command()
    # The commands find this deployment through var/run: say where, unless it is ./var.
    var = "" if root == Path.cwd() / "var" else f" --var {_short(root)}"
    run = _short(deployment.run.path)
    lines += [
        f"  web          http://localhost:{deployment.web_port} (log in in a browser)",
        f"  broker       {deployment.broker_bootstrap}",
        f"  SMTP sink    127.0.0.1:{deployment.smtp_port} → {deployment.mail_folder}",
        f"  SMS sink     {deployment.sms_url} → {deployment.sms_folder}",
        f"  logs         {root / 'logs'}",
        f"  pids         {run}/*.pid (kill -9 $(cat {run}/auth-a.pid): zone a's auth of this "
        "checkout only)",
        f"  control      127.0.0.1:{control_port} ({tweestap} zone down a{var}, "
        f"{tweestap} zone up a{var}, {tweestap} dev reset-admin{var})",
        "",
        *demos.banner(
            demo,
            states,
            auth_a,
            f"{tweestap} dev reset-admin{var}",
            _short(demos.demo_file(root)),
        ),
        "",
        "A service that exits is restarted (and said here). Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def _command() -> str:
    """How to run ``tweestap`` from the current folder: ``.venv/bin/tweestap`` under ``make
    run``, the bare name when it is on the PATH or nowhere to be found."""
    beside = Path(sys.executable).parent / "tweestap"
    if not beside.exists() or os.environ.get("VIRTUAL_ENV") == str(beside.parent.parent):
        return "tweestap"
    return _short(beside)


def _short(path: Path) -> str:
    """``path`` relative to the current folder when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
