"""The aiohttp app factory every service uses: problem+json errors, request ids in the logs,
``/openapi.json``, the runtime (pool, bus, outbox relay, consumers) opened and closed with the
app, and the operations listener: ``/healthz``, ``/readyz`` (database and broker) and
``/metrics`` on a port of their own (``TWEESTAP_OPS_HOST``/``TWEESTAP_OPS_PORT``), never on the
public one, because metrics name practices and certificates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from yarl import URL

from shared import actors, logs
from shared.bus import Bus
from shared.consumer import INFRASTRUCTURE_ERRORS
from shared.db import Migrations, create_pool, migrate_service
from shared.events import ID_PATTERN
from shared.metrics import Metrics
from shared.openapi import openapi
from shared.outbox import OutboxRelay
from shared.problems import Problem, not_found, unauthorized
from shared.ratelimit import Network, client_address, parse_networks
from shared.settings import Settings
from shared.supervision import Probe, Supervisor, TaskFactory

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: HandlerFn
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    bearer: bool = False
    #: The success status (201 for a creation, 204 for an empty answer).
    status: int = 200
    #: The query parameters the handler reads, one model field each (for /openapi.json).
    query: type[BaseModel] | None = None
    #: Authenticated with HTTP Basic as a registered relying service (RFC 7662 §2.1).
    basic: bool = False
    #: Problem statuses of the route's own beyond those its shape implies (shared.openapi).
    errors: tuple[int, ...] = ()
    #: The success answer's media type (e.g. ``application/x-ndjson`` for an export).
    content_type: str = "application/json"
    #: A form-encoded body (OAuth's endpoints), one model field per parameter.
    form: type[BaseModel] | None = None
    #: An OAuth endpoint: its ``errors`` answer as RFC 6749 §5.2 / RFC 6750 §3 say (JSON
    #: ``error``), not problem+json.
    oauth: bool = False


@dataclass
class Runtime:
    """What every service holds while it runs."""

    settings: Settings
    metrics: Metrics
    pool: asyncpg.Pool
    bus: Bus
    relay: OutboxRelay
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    supervisor: Supervisor = field(init=False)
    #: What ``/readyz`` said last (``ready``, ``degraded``, ``not ready``), to log changes once.
    readiness: str = "starting"
    #: Whether the service has started: every cleanup context entered, the service's own too
    #: (auth's keys, its consumer's recall, its tasks). Until then ``/readyz`` says no.
    started: bool = False

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(
            self.metrics,
            self.settings.task_restart_seconds,
            self.settings.task_restart_max_seconds,
            self.tasks,
        )

    def spawn(self, run: TaskFactory, name: str, probe: Probe | None = None) -> asyncio.Task[None]:
        """Start a background task under supervision (restarted whenever it fails; readiness
        says no while it is down or while ``probe`` names a problem)."""
        return self.supervisor.spawn(run, name, probe)

    def note_readiness(
        self, status: str | None, checks: Mapping[str, bool], failing: Mapping[str, str]
    ) -> None:
        """Log a change of readiness once, not on every probe."""
        now = status or "not ready"
        if now == self.readiness:
            return
        log.log(
            logging.INFO if status == "ready" else logging.WARNING,
            "readiness %s -> %s",
            self.readiness,
            now,
            extra={"status": now, "previous": self.readiness, "checks": checks, "failing": failing},
        )
        self.readiness = now


RUNTIME = web.AppKey("runtime", Runtime)
METRICS = web.AppKey("metrics", Metrics)
#: On the operations app: the service's app, whose runtime the probes check.
SERVICE_APP = web.AppKey("service_app", web.Application)
#: On the service's app once it runs: the operations listener's base URL.
OPS_URL = web.AppKey("ops_url", str)


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Read and validate a JSON body; problem+json for anything else. Values are never echoed,
    because a rejected body may hold a password. NUL, lone surrogates and over-long strings are
    the request model's to refuse (``shared.events.Text`` with a ``max_length``)."""
    if request.content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "Body must be application/json")
    raw = await request.read()
    try:
        # Parsed and validated in one pass by pydantic's own parser (the common case, and the
        # cheaper by far).
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise _invalid(exc) from None
    # Not JSON to pydantic's parser: the standard library's decides, which reads a lone
    # surrogate as JSON does, so that the model names the field it refuses.
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "malformed-json", "Body is not valid JSON") from None
    except RecursionError:
        raise Problem(400, "malformed-json", "Body is nested too deeply") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _invalid(exc: ValidationError) -> Problem:
    """422 naming each field refused and why, never its value."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors()
    ]
    return Problem(422, "invalid-request", "The request is not valid", errors=errors)


def bearer(request: web.Request) -> str:
    """The request's bearer token; 401 without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    return token.strip()


def path_id(request: web.Request, name: str) -> str:
    """A path id; one that cannot exist is simply not found."""
    value = request.match_info[name]
    if re.fullmatch(ID_PATTERN, value) is None:
        raise not_found()
    return value


class Administered(Protocol):
    """A use case that checks a token is its practice's administrator's (401/403 if not)."""

    @property
    def admin(self) -> Callable[[str, str], Awaitable[Any]]: ...


A = TypeVar("A", bound=Administered)


async def admin_request(request: web.Request, use_case: web.AppKey[A]) -> tuple[A, str]:
    """The use case under ``use_case`` and the practice (path ``{p}``) of a request made by
    that practice's administrator; 401/403 otherwise."""
    found = request.app[use_case]
    practice = path_id(request, "p")
    await found.admin(bearer(request), practice)
    return found, practice


def field_id(value: str, field: str) -> str:
    """An id given in a query or a path segment that names what to create: 422 if malformed."""
    if re.fullmatch(ID_PATTERN, value) is None:
        raise Problem(
            422,
            "invalid-request",
            "The request is not valid",
            errors=[{"field": field, "message": f"must match {ID_PATTERN}"}],
        )
    return value


def json_response(model: BaseModel | dict[str, Any], status: int = 200) -> web.Response:
    """``model`` as JSON, encoded by pydantic's serialiser (a dict too: about five times
    faster than the standard library's, on every answer)."""
    body = model.model_dump_json().encode() if isinstance(model, BaseModel) else to_json(model)
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


#: What an answer that sets no caching of its own gets: answers carry tokens, TOTP secrets, QR
#: codes and recovery codes (DESIGN §5), so no cache may keep any answer unless its handler
#: says so (the public keys and the discovery document do).
NO_STORE = "no-store"
#: Headers of an aiohttp HTTP error that still matter once it is a problem+json answer
#: (RFC 9110 §15.5.6: a 405 says which methods are allowed).
_KEPT_ERROR_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def _problem_middleware(metrics: Metrics, trusted: tuple[Network, ...] = ()) -> Any:
    """Problem+json for every error, and per request: its id, log scope, practice, and the
    client (:mod:`shared.actors`) resolved once through the ``trusted`` proxies, so that the
    rate limit and the audit trail name the same address."""

    @web.middleware
    async def middleware(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
        rid = request.headers.get("X-Request-Id") or secrets.token_hex(16)
        token = logs.request_id.set(rid[:64])
        scope = logs.scope.set((metrics.service, metrics.zone))
        practice = logs.current_practice.set(_practice_of(request))
        forwarded = request.headers.getall("X-Forwarded-For", [])
        party = actors.party.set(actors.Party(client_address(request.remote, forwarded, trusted)))
        started = time.perf_counter()
        route = "unmatched"
        if request.match_info.route.resource is not None:
            route = request.match_info.route.resource.canonical
        try:
            try:
                response = await handler(request)
            except Problem as problem:
                response = problem.response(request.path)
            except web.HTTPRequestEntityTooLarge:
                response = Problem(413, "payload-too-large", "Request body too large").response()
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status, "http-error")
                response = Problem(exc.status, slug, exc.reason).response(request.path)
                for name in _KEPT_ERROR_HEADERS:
                    if name in exc.headers:
                        response.headers[name] = exc.headers[name]
            except INFRASTRUCTURE_ERRORS as exc:
                # The database (or broker) is away: an outage, not a fault of the request or
                # the code. 503 tells clients to retry or use another zone (no stack trace).
                log.warning("unavailable: %s", type(exc).__name__)
                response = Problem(
                    503, "unavailable", "Service unavailable", headers={"Retry-After": "1"}
                ).response(request.path)
            except Exception:
                log.exception("unhandled error")
                response = Problem(500, "internal-error", "Internal error").response()
            response.headers["X-Request-Id"] = rid
            if not response.prepared:
                response.headers.setdefault("Cache-Control", NO_STORE)
            metrics.http_answered(route, response.status, time.perf_counter() - started)
            return response
        finally:
            actors.party.reset(party)
            logs.current_practice.reset(practice)
            logs.scope.reset(scope)
            logs.request_id.reset(token)

    return middleware


def _practice_of(request: web.Request) -> str | None:
    """The practice a route names (``{p}`` or ``{practice}``), for the request's log lines."""
    info = request.match_info
    value = info.get("p") or info.get("practice")
    return value[:64] if value else None


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def _runtime(request: web.Request) -> Runtime:
    """The service's runtime, seen from the operations app: not ready until it has started
    (the runtime exists before the service's own contexts have run: said ready then, auth
    was ready before its consumer knew it had to catch up, then not)."""
    rt = request.app[SERVICE_APP].get(RUNTIME)
    if rt is None or not rt.started:
        raise Problem(503, "not-ready", "Not ready", checks={"started": False})
    return rt


async def _readyz(request: web.Request) -> web.Response:
    """Whether this instance can serve requests: its database answers and no task is failing
    (a consumer retrying, lagging or catching up). The broker is reported but, unless the
    service has no work without it (``ready_needs_broker``), does not take the instance out:
    requests are served and their events wait in the outbox (``status: degraded``)."""
    rt = _runtime(request)
    checks = {"database": False, "broker": False}
    with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
        checks["database"] = await asyncio.wait_for(rt.pool.fetchval("SELECT true"), 2.0)
    checks["broker"] = await rt.bus.ready()
    failing = rt.supervisor.failing()
    checks["tasks"] = not failing
    status = readiness(checks, rt.settings.ready_needs_broker)
    rt.note_readiness(status, checks, failing)
    if status is None:
        raise Problem(503, "not-ready", "Not ready", checks=checks, failing=failing)
    return json_response({"status": status, "checks": checks, "failing": failing})


def readiness(checks: Mapping[str, bool], needs_broker: bool) -> str | None:
    """``ready``, ``degraded`` (serving without the broker) or None (not ready)."""
    required = {name: ok for name, ok in checks.items() if name != "broker" or needs_broker}
    if not all(required.values()):
        return None
    return "ready" if all(checks.values()) else "degraded"


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_ops_app(service_app: web.Application, metrics: Metrics) -> web.Application:
    """Probes and metrics of ``service_app``, for the operations listener only."""
    ops = web.Application(middlewares=[_problem_middleware(metrics)])
    ops[SERVICE_APP] = service_app
    ops[METRICS] = metrics
    ops.router.add_get("/healthz", _healthz)
    ops.router.add_get("/readyz", _readyz)
    ops.router.add_get("/metrics", _metrics)
    return ops


def _ops_listener(settings: Settings, ops: web.Application) -> Any:
    """A cleanup context serving ``ops`` on the operations host and port while the service
    runs, whoever serves the service (``tweestap serve``, a test client)."""

    async def listener(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(ops, access_log=None)
        await runner.setup()
        try:
            # Workers of one service share the port (services.process.workers); any may answer.
            site = web.TCPSite(
                runner,
                settings.ops_host,
                settings.ops_listen_port(),
                reuse_port=settings.workers > 1,
            )
            await site.start()
            port = runner.addresses[0][1]
            app[OPS_URL] = f"http://{settings.ops_host}:{port}"
            log.info(
                "operations listener on %s",
                app[OPS_URL],
                extra={"service": settings.service, "zone": settings.zone, "ops_port": port},
            )
            yield
        finally:
            await runner.cleanup()

    return listener


SHUTDOWN_STEP_SECONDS = 10.0


async def _shutdown(rt: Runtime) -> None:
    """Stop tasks, producer and pool, each step bounded: a stuck step (a broker that does not
    answer, a connection never released) is logged and cut off, never hangs the process."""
    for task in rt.tasks:
        task.cancel()
    if rt.tasks:
        _, pending = await asyncio.wait(rt.tasks, timeout=SHUTDOWN_STEP_SECONDS)
        if pending:
            log.warning("tasks did not stop in time: %s", [t.get_name() for t in pending])
    try:
        await asyncio.wait_for(rt.bus.close(), SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("Kafka producer did not stop in time")
    try:
        await asyncio.wait_for(rt.pool.close(), SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("database pool did not close in time; terminating it")
        rt.pool.terminate()


def create_service_app(
    settings: Settings,
    routes: Sequence[Route],
    migrations: Path | Migrations,
    metrics: Metrics | None = None,
) -> web.Application:
    """The common part of every service's ``create_app``: middleware, runtime, and the
    operations listener with the probes and metrics."""
    metrics = metrics or Metrics(settings.service, settings.zone)
    app = web.Application(
        client_max_size=settings.max_request_bytes,
        middlewares=[_problem_middleware(metrics, parse_networks(settings.trusted_proxies))],
    )
    app[METRICS] = metrics
    spec = openapi(f"Tweestap {settings.service}", routes)

    async def _openapi(request: web.Request) -> web.Response:
        return json_response(spec)

    app.router.add_get("/openapi.json", _openapi)
    for r in routes:
        app.router.add_route(r.method, r.path, r.handler)

    async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
        await migrate_service(settings, settings.service, migrations)
        pool = await create_pool(
            settings.database_url, settings.database_pool_min, settings.database_pool_max
        )
        bus = Bus(settings)
        relay = OutboxRelay(settings, pool, bus, metrics)
        rt = Runtime(settings, metrics, pool, bus, relay)
        app[RUNTIME] = rt
        rt.spawn(relay.run, "outbox-relay")
        try:
            yield
        finally:
            await _shutdown(rt)

    # The operations listener first: it answers /healthz (and /readyz 503) during migrations.
    app.cleanup_ctx.append(_ops_listener(settings, create_ops_app(app, metrics)))
    app.cleanup_ctx.append(runtime_ctx)
    # After every cleanup context, the service's own ones included (aiohttp runs them first):
    # the service is started, /readyz may say so, and the log says it.
    app.on_startup.append(_started(settings))
    return app


def _started(settings: Settings) -> Callable[[web.Application], Awaitable[None]]:
    async def started(app: web.Application) -> None:
        app[RUNTIME].started = True
        version = logs.package_version()
        log.info(
            "%s %s started in zone %s",
            settings.service,
            version,
            settings.zone,
            extra={
                "service": settings.service,
                "zone": settings.zone,
                "version": version,
                "port": settings.port,
                "ops_port": URL(app[OPS_URL]).port,
            },
        )

    return started
