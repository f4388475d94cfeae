"""The auth service's HTTP API: routes → handlers, problem+json errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import ValidationError

from services.auth import bootstrap, http_cards, http_oidc, http_upstream
from services.auth.adapters.hasher import caller_budget
from services.auth.api import (
    ChallengeRequest,
    ChallengeResponse,
    ChangePasswordRequest,
    Introspection,
    IntrospectRequest,
    Jwks,
    LoginRequest,
    LoginResponse,
    NewPasswordRequest,
    PasswordChanged,
    SetPasswordRequest,
    TokenResponse,
    VerifyRequest,
    ZoneStatus,
)
from services.auth.api_accounts import AccountList, AccountView, SessionList, SessionsEnded
from services.auth.bootstrap import Adapters, Auth
from services.auth.domain import discovery
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from services.auth.use_cases.clients import Clients
from shared import actors
from shared.consumer import EventConsumer
from shared.db import Migrations
from shared.http import (
    RUNTIME,
    HandlerFn,
    Route,
    bearer,
    create_service_app,
    json_response,
    parse_body,
)
from shared.problems import Problem
from shared.ratelimit import RateLimiter, limit_key

log = logging.getLogger(__name__)
ADAPTERS = web.AppKey("auth_adapters", Adapters)
AUTH = web.AppKey("auth", Auth)
CONSUMER = web.AppKey("consumer", EventConsumer)
CLIENTS = web.AppKey("clients", Clients)
LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
#: Its own migrations, and the replicated parts it keeps (shared/replicas).
MIGRATIONS = Migrations(Path(__file__).parent / "migrations", ("keys", "revocations", "factors"))
#: Paths answered while catching up: ending a session never depends on the state being
#: complete.
OPEN_WHILE_BEHIND = frozenset({"/v1/tokens/revoke"})
RETRY_AFTER_SECONDS = 1
#: The seconds the client will wait for this answer (the SDK sends its call's time limit):
#: a login's hash does not wait in the queue past it (services/auth/domain/admission.py).
REQUEST_BUDGET = "X-Request-Budget"
MAX_REQUEST_BUDGET = 600.0


def _login_limiter(settings: AuthSettings) -> RateLimiter:
    return RateLimiter(
        settings.login_rate_attempts,
        settings.login_rate_window_seconds,
        settings.login_rate_max_clients,
    )


def limited(handler: HandlerFn) -> HandlerFn:
    """Spend one request of the client's login budget before ``handler``: the login
    endpoints cost argon2 work (or guess a second factor) for anyone, known practice or not."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        # The client as the shared middleware resolved it (through TWEESTAP_TRUSTED_PROXIES),
        # an IPv6 client by its network (TWEESTAP_RATE_LIMIT_IPV6_PREFIX).
        prefix = request.app[ADAPTERS].settings.rate_limit_ipv6_prefix
        client = limit_key(actors.address() or "unknown", prefix)
        retry_after = request.app[LOGIN_LIMITER].take(client)
        if retry_after is not None:
            raise Problem(
                429,
                "too-many-requests",
                "Too many requests",
                "Too many login requests from this address; try again later.",
                retry_after=retry_after,
            )
        caller_budget.set(_request_budget(request.headers.get(REQUEST_BUDGET)))
        return await handler(request)

    return wrapped


def _request_budget(value: str | None) -> float | None:
    """``X-Request-Budget`` in seconds; anything else (absent, not a positive number) is no
    budget. It can only shorten the request's own wait: the queue's limit still applies."""
    try:
        seconds = float(value or "")
    except ValueError:
        return None
    return seconds if 0 < seconds <= MAX_REQUEST_BUDGET else None


async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, LoginRequest)
    result = await request.app[AUTH].login.login(
        body.practice,
        body.username,
        body.password,
        second_factor=body.second_factor,
        level=body.level,
    )
    return json_response(result)


async def login_password(request: web.Request) -> web.Response:
    body = await parse_body(request, NewPasswordRequest)
    result = await request.app[AUTH].change_password_at_login.change_password_in_login(
        request.match_info["id"], body.new_password
    )
    return json_response(result)


async def login_challenge(request: web.Request) -> web.Response:
    body = await parse_body(request, ChallengeRequest)
    second_step = request.app[AUTH].second_step
    return json_response(await second_step.challenge(request.match_info["id"], body.factor))


async def login_verify(request: web.Request) -> web.Response:
    body = await parse_body(request, VerifyRequest)
    second_step = request.app[AUTH].second_step
    return json_response(await second_step.verify(request.match_info["id"], body))


async def renew(request: web.Request) -> web.Response:
    return json_response(await request.app[AUTH].renewing.renew(bearer(request)))


async def revoke(request: web.Request) -> web.Response:
    await request.app[AUTH].revoking.revoke(bearer(request))
    return web.Response(status=204)


async def introspect(request: web.Request) -> web.Response:
    """RFC 7662: only a registered relying service may ask (§2.1), HTTP Basic; the token in a
    form (§2.1, what relying-party libraries send) or in JSON ``{token}``."""
    await request.app[CLIENTS].authenticate(request.headers.get("Authorization"))
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        token = form.get("token")
        if not isinstance(token, str) or not token or len(form.getall("token")) > 1:
            raise Problem(400, "invalid-request", "Invalid request", "One token is needed.")
        try:
            body = IntrospectRequest(token=token)
        except ValidationError:
            raise Problem(400, "invalid-request", "Invalid request", "Not a token.") from None
    else:
        body = await parse_body(request, IntrospectRequest)
    return json_response(await request.app[AUTH].introspecting.introspect(body.token))


def _public(response: web.Response, settings: AuthSettings) -> web.Response:
    """Public metadata (keys, discovery) may be cached; everything else is no-store."""
    response.headers["Cache-Control"] = (
        f"public, max-age={settings.public_metadata_max_age_seconds}"
    )
    return response


async def jwks(request: web.Request) -> web.Response:
    keys = request.app[AUTH].keys
    return _public(json_response(await keys.jwks()), request.app[ADAPTERS].settings)


async def status(request: web.Request) -> web.Response:
    """Whether this zone serves logins and tokens now: clients probe it before moving back to a
    zone. A zone catching up answers 503 ``catching-up`` (middleware), one whose database is away
    503 ``unavailable``; the public JWKS, in contrast, is served from either state."""
    adapters = request.app[ADAPTERS]
    await adapters.pool.fetchval("SELECT 1")
    return json_response({"zone": adapters.settings.zone, "status": "serving"})


async def openid_configuration(request: web.Request) -> web.Response:
    settings = request.app[ADAPTERS].settings
    return _public(json_response(discovery.openid_configuration(settings.issuer)), settings)


async def set_password(request: web.Request) -> web.Response:
    claims = await request.app[ADAPTERS].gate.live_session(bearer(request))
    body = await parse_body(request, SetPasswordRequest)
    result = await request.app[AUTH].set_password.set_password(
        claims, request.match_info["p"], request.match_info["e"], body.password, body.temporary
    )
    return json_response(result)


async def accounts(request: web.Request) -> web.Response:
    claims = await request.app[ADAPTERS].gate.live_session(bearer(request))
    listed = await request.app[AUTH].account_admin.accounts(claims, request.match_info["p"])
    return json_response(listed)


async def unlock(request: web.Request) -> web.Response:
    claims = await request.app[ADAPTERS].gate.live_session(bearer(request))
    account = await request.app[AUTH].account_admin.unlock(
        claims, request.match_info["p"], request.match_info["e"]
    )
    return json_response(account)


async def end_sessions(request: web.Request) -> web.Response:
    claims = await request.app[ADAPTERS].gate.live_session(bearer(request))
    ended = await request.app[AUTH].account_admin.end_sessions(
        claims, request.match_info["p"], request.match_info["e"]
    )
    return json_response(ended)


async def own_sessions(request: web.Request) -> web.Response:
    claims = await request.app[ADAPTERS].gate.live_session(bearer(request))
    return json_response(await request.app[AUTH].own_sessions.live(claims))


async def end_own_sessions(request: web.Request) -> web.Response:
    claims = await request.app[ADAPTERS].gate.live_session(bearer(request))
    return json_response(await request.app[AUTH].own_sessions.end_all(claims))


async def change_password(request: web.Request) -> web.Response:
    claims = await request.app[ADAPTERS].gate.live_session(bearer(request))
    body = await parse_body(request, ChangePasswordRequest)
    change = request.app[AUTH].change_own_password
    result = await change.change_own_password(claims, body.current_password, body.new_password)
    return json_response(result)


OWN_ROUTES = (
    Route(
        "POST",
        "/v1/login",
        limited(login),
        "Password step of a login",
        LoginRequest,
        LoginResponse,
        errors=(401, 403, 409, 429),
    ),
    Route(
        "POST",
        "/v1/login/{id}/password",
        limited(login_password),
        "Change a weak, expired or temporary password during login",
        NewPasswordRequest,
        LoginResponse,
        errors=(401, 403, 409, 422, 429),
    ),
    Route(
        "POST",
        "/v1/login/{id}/challenge",
        limited(login_challenge),
        "Passkey request options, an SMS or e-mail login code, or the certificate fallback's nonce",
        ChallengeRequest,
        ChallengeResponse,
        errors=(401, 403, 409, 429),
    ),
    Route(
        "POST",
        "/v1/login/{id}/verify",
        limited(login_verify),
        "Second step: a passkey's assertion, a code of one of the employee's factors, or the "
        "certificate fallback's signed nonce completes the login",
        VerifyRequest,
        TokenResponse,
        errors=(401, 403, 409, 422, 429),
    ),
    Route("POST", "/v1/tokens/renew", renew, "Sliding-window renewal", None, TokenResponse, True),
    Route(
        "POST", "/v1/tokens/revoke", revoke, "Log out: revoke the session", bearer=True, status=204
    ),
    Route(
        "POST",
        "/v1/tokens/introspect",
        introspect,
        "RFC 7662 token introspection (a registered relying service: HTTP Basic)",
        IntrospectRequest,
        Introspection,
        basic=True,
    ),
    Route(
        "GET",
        "/v1/status",
        status,
        "Whether this zone serves logins and tokens now (503 while catching up or without its "
        "database): what clients probe before moving back to a zone",
        None,
        ZoneStatus,
    ),
    Route("GET", "/.well-known/jwks.json", jwks, "Every zone's public signing keys", None, Jwks),
    Route(
        "GET",
        discovery.DISCOVERY_PATH,
        openid_configuration,
        "OpenID Connect discovery (RFC 8414): issuer, JWKS, endpoints, algorithms",
    ),
    Route(
        "PUT",
        "/v1/practices/{p}/employees/{e}/password",
        set_password,
        "Administrator sets an employee's password",
        SetPasswordRequest,
        PasswordChanged,
        True,
        errors=(409, 422),
    ),
    Route(
        "GET",
        "/v1/practices/{p}/accounts",
        accounts,
        "Administrator: every employee's account (locked until, failures, last login, status)",
        None,
        AccountList,
        True,
    ),
    Route(
        "POST",
        "/v1/practices/{p}/employees/{e}/unlock",
        unlock,
        "Administrator unlocks an employee's account in both zones",
        None,
        AccountView,
        True,
    ),
    Route(
        "POST",
        "/v1/practices/{p}/employees/{e}/sessions/end",
        end_sessions,
        "Administrator ends every session of an employee (every application's too)",
        None,
        SessionsEnded,
        True,
    ),
    Route(
        "GET",
        "/v1/sessions",
        own_sessions,
        "Employee's own live sessions in both zones: since when, from where, which application",
        None,
        SessionList,
        True,
    ),
    Route(
        "POST",
        "/v1/sessions/end",
        end_own_sessions,
        "Employee ends every session of their own, this one too (every application's too)",
        None,
        SessionsEnded,
        True,
    ),
    Route(
        "POST",
        "/v1/password",
        change_password,
        "Employee changes their own password",
        ChangePasswordRequest,
        PasswordChanged,
        True,
        errors=(409, 422, 429),
    ),
)


#: Auth's routes, the OpenID Provider's, the card login's and the upstream logins' (Dezi)
#: among them.
ROUTES = (
    *OWN_ROUTES,
    *http_oidc.ROUTES,
    *http_cards.routes(limited),
    *http_upstream.routes(limited),
)


def refuse_while_behind(consumer: web.AppKey[EventConsumer]) -> Middleware:
    """A middleware answering 503 ``catching-up`` on ``/v1/…`` while the app's ``consumer``
    is behind. After its database failed while events were arriving, or when it starts again
    on a database that has consumed before (a zone back from an outage), this zone's tables
    may lack what the bus already holds (the other zone's revocations, password changes,
    failed attempts) until its consumer has read to the end again (``EventConsumer.behind``,
    bounded by ``catch_up_max_seconds``). Meanwhile a login, renewal or introspection here
    could honour a session the other zone ended, so clients use the other zone. Logging out
    stays open: it only adds a revocation."""

    @web.middleware
    async def middleware(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
        replication = request.app.get(consumer)
        if (
            replication is not None
            and replication.behind
            and request.path.startswith("/v1/")
            and request.path not in OPEN_WHILE_BEHIND
        ):
            raise Problem(
                503,
                "catching-up",
                "Zone catching up",
                "This zone is applying events it may have missed while its database or its "
                "process was away; try again shortly or use another zone.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return await handler(request)

    return middleware


def create_app(settings: AuthSettings) -> web.Application:
    metrics = AuthMetrics(settings.zone)
    app = create_service_app(settings, ROUTES, MIGRATIONS, metrics)
    app.middlewares.append(refuse_while_behind(CONSUMER))
    app[LOGIN_LIMITER] = _login_limiter(settings)

    async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
        rt = app[RUNTIME]
        adapters = bootstrap.build_adapters(settings, rt.pool, metrics, settings.hash_workers)
        try:
            auth = bootstrap.compose(adapters)
            await auth.keys.start_keys()
            app[ADAPTERS], app[AUTH], app[CLIENTS] = adapters, auth, auth.clients
            app[http_oidc.PROVIDER] = auth.oidc
            consumer = bootstrap.consumer(adapters)
            app[CONSUMER] = consumer
            await consumer.recall()  # before the first request: behind if it has consumed before
            rt.spawn(consumer.run, "auth-consumer", consumer.not_ready)
            rt.spawn(auth.maintenance.run, "maintenance")
            if adapters.gate.liveness is not None:
                rt.spawn(adapters.gate.liveness.run, "liveness")
                publish = metrics.watch_liveness(adapters.gate.liveness)
                if publish is not None:
                    rt.spawn(publish, "liveness-metrics")
            rt.spawn(auth.oidc.backchannel.run, "backchannel-logouts")
            yield
            await auth.oidc.client_keys.close()
        finally:
            adapters.hasher.close()

    app.cleanup_ctx.append(auth_ctx)
    app.cleanup_ctx.append(
        http_cards.context(
            settings, lambda app: app[ADAPTERS].pool, lambda app: app[AUTH].means_login
        )
    )
    app.cleanup_ctx.append(
        http_upstream.context(
            settings, lambda app: app[ADAPTERS], lambda app: app[AUTH].means_login
        )
    )
    return app
