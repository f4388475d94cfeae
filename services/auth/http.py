"""The auth service's HTTP API: routes → handlers, problem+json errors."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.auth import consumers, discovery
from services.auth.adapters.hasher import Hasher
from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.signer import Signer
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
from services.auth.catching_up import refuse_while_behind
from services.auth.clients import Clients
from services.auth.handlers import Auth
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared import actors
from shared.consumer import EventConsumer
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
from shared.ratelimit import RateLimiter
from shared.sealing import Keyring
from shared.topics import DEAD_LETTERS

log = logging.getLogger(__name__)
AUTH = web.AppKey("auth", Auth)
CONSUMER = web.AppKey("consumer", EventConsumer)
CLIENTS = web.AppKey("clients", Clients)
LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
MIGRATIONS = Path(__file__).parent / "migrations"
KEY_CHECK_SECONDS = 300


def _login_limiter(settings: AuthSettings) -> RateLimiter:
    return RateLimiter(
        settings.login_rate_attempts,
        settings.login_rate_window_seconds,
        settings.login_rate_max_clients,
    )


def limited(handler: HandlerFn) -> HandlerFn:
    """Spend one request of the client address's login budget before ``handler``: the login
    endpoints cost argon2 work (or guess a second factor) for anyone, known practice or not."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        # The client as the shared middleware resolved it (through TWEESTAP_TRUSTED_PROXIES).
        retry_after = request.app[LOGIN_LIMITER].take(actors.address() or "unknown")
        if retry_after is not None:
            raise Problem(
                429,
                "too-many-requests",
                "Too many requests",
                "Too many login requests from this address; try again later.",
                retry_after=retry_after,
            )
        return await handler(request)

    return wrapped


async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, LoginRequest)
    result = await request.app[AUTH].login(body.practice, body.username, body.password)
    return json_response(result)


async def login_password(request: web.Request) -> web.Response:
    body = await parse_body(request, NewPasswordRequest)
    result = await request.app[AUTH].change_password_in_login(
        request.match_info["id"], body.new_password
    )
    return json_response(result)


async def login_challenge(request: web.Request) -> web.Response:
    body = await parse_body(request, ChallengeRequest)
    auth, login_id = request.app[AUTH], request.match_info["id"]
    if body.factor == "certificate":
        return json_response(await auth.certificate_challenge(login_id))
    return json_response(await auth.challenge(login_id, body.factor))


async def login_verify(request: web.Request) -> web.Response:
    body = await parse_body(request, VerifyRequest)
    auth, login_id = request.app[AUTH], request.match_info["id"]
    if body.factor == "certificate":
        assert body.certificate is not None and body.signature is not None  # the model checks
        result = await auth.verify_certificate(login_id, body.certificate, body.signature)
    else:
        result = await auth.verify_second_factor(login_id, body.factor, body.code)
    return json_response(result)


async def renew(request: web.Request) -> web.Response:
    return json_response(await request.app[AUTH].renew(bearer(request)))


async def revoke(request: web.Request) -> web.Response:
    await request.app[AUTH].revoke(bearer(request))
    return web.Response(status=204)


async def introspect(request: web.Request) -> web.Response:
    """RFC 7662: only a registered relying service may ask (§2.1), HTTP Basic."""
    await request.app[CLIENTS].authenticate(request.headers.get("Authorization"))
    body = await parse_body(request, IntrospectRequest)
    return json_response(await request.app[AUTH].introspect(body.token))


def _public(response: web.Response, settings: AuthSettings) -> web.Response:
    """Public metadata (keys, discovery) may be cached; everything else is no-store."""
    response.headers["Cache-Control"] = (
        f"public, max-age={settings.public_metadata_max_age_seconds}"
    )
    return response


async def jwks(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    return _public(json_response(await auth.jwks()), auth.settings)


async def status(request: web.Request) -> web.Response:
    """Whether this zone serves logins and tokens now: clients probe it before moving back to a
    zone. A zone catching up answers 503 ``catching-up`` (middleware), one whose database is away
    503 ``unavailable``; the public JWKS, in contrast, is served from either state."""
    auth = request.app[AUTH]
    await auth.pool.fetchval("SELECT 1")
    return json_response({"zone": auth.settings.zone, "status": "serving"})


async def openid_configuration(request: web.Request) -> web.Response:
    settings = request.app[AUTH].settings
    return _public(json_response(discovery.openid_configuration(settings.issuer)), settings)


async def set_password(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    claims = await auth.gate.live_session(bearer(request))
    body = await parse_body(request, SetPasswordRequest)
    result = await auth.set_password(
        claims, request.match_info["p"], request.match_info["e"], body.password, body.temporary
    )
    return json_response(result)


async def change_password(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    claims = await auth.gate.live_session(bearer(request))
    body = await parse_body(request, ChangePasswordRequest)
    result = await auth.change_own_password(claims, body.current_password, body.new_password)
    return json_response(result)


ROUTES = (
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
        "Send an SMS or e-mail login code, or hand out the nonce of the certificate fallback",
        ChallengeRequest,
        ChallengeResponse,
        errors=(401, 403, 409, 429),
    ),
    Route(
        "POST",
        "/v1/login/{id}/verify",
        limited(login_verify),
        "Second step: a code of one of the employee's factors, or the certificate fallback's "
        "signed nonce, completes the login",
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


def create_app(settings: AuthSettings) -> web.Application:
    metrics = AuthMetrics(settings.zone)
    app = create_service_app(settings, ROUTES, MIGRATIONS, metrics)
    app.middlewares.append(refuse_while_behind(CONSUMER))
    app[LOGIN_LIMITER] = _login_limiter(settings)

    async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
        rt = app[RUNTIME]
        keyring = Keyring.parse(settings.sealing_keys.get_secret_value())
        hasher = Hasher(
            settings.argon2_memory_kib,
            settings.argon2_time_cost,
            settings.argon2_parallelism,
            settings.hash_workers,
            settings.hash_max_waiting,
            settings.hash_busy_retry_seconds,
        )
        signer = Signer()
        auth = Auth(
            settings, rt.pool, hasher, signer, keyring, KeyStore(settings, keyring), metrics
        )
        await auth.start_keys()
        app[AUTH] = auth
        app[CLIENTS] = Clients(settings, rt.pool, keyring)
        consumer = EventConsumer(
            settings,
            rt.pool,
            metrics,
            "auth",
            consumers.handlers(settings, signer),
            consumers.accept(settings),
            dead_letter_topic=DEAD_LETTERS,
        )
        app[CONSUMER] = consumer
        await consumer.recall()  # before the first request: behind if it has consumed before
        rt.spawn(consumer.run, "auth-consumer", consumer.not_ready)
        rt.spawn(lambda: _maintenance(auth), "maintenance")
        try:
            yield
        finally:
            hasher.close()

    app.cleanup_ctx.append(auth_ctx)
    return app


async def _maintenance(auth: Auth) -> None:
    """Rotate this zone's key when due, drop retired keys, forget what can no longer matter."""
    while True:
        await asyncio.sleep(KEY_CHECK_SECONDS)
        try:
            await auth.rotate_if_due()
            await auth.housekeeping()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("maintenance failed, will retry: %r", exc)
