"""Auth's routes of the logins through an upstream OpenID Provider (Dezi; docs/adr/0014):
what the web front door asks while a browser goes to the upstream and comes back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

from services.auth import upstream_problems as problems
from services.auth.adapters.upstream import UpstreamConfig, UpstreamProvider
from services.auth.api_upstream import (
    DeziLinkProof,
    UpstreamAnswer,
    UpstreamList,
    UpstreamLoginDone,
    UpstreamStart,
    UpstreamStarted,
    UpstreamView,
)
from services.auth.bootstrap import Adapters
from services.auth.settings import AuthSettings
from services.auth.use_cases.dezi import DeziLink, DeziLogin
from services.auth.use_cases.means_login import MeansLogin
from services.auth.use_cases.upstream_identities import UpstreamIdentities
from shared.http import HandlerFn, Route, bearer, json_response, parse_body


@dataclass(frozen=True)
class Dezi:
    """The Dezi login and link, and the provider they reach (closed at the end)."""

    login: DeziLogin
    link: DeziLink
    provider: UpstreamProvider

    @property
    def view(self) -> UpstreamView:
        config = self.provider.config
        return UpstreamView(id=config.name, name=config.display_name)


@dataclass(frozen=True)
class Upstreams:
    """The upstream means this deployment configured (none, or Dezi)."""

    dezi: Dezi | None = None

    async def close(self) -> None:
        if self.dezi is not None:
            await self.dezi.provider.close()


UPSTREAMS = web.AppKey("upstreams", Upstreams)


def _dezi(request: web.Request) -> Dezi:
    found = request.app[UPSTREAMS].dezi
    if found is None or request.match_info["provider"] != found.provider.config.name:
        raise problems.unknown_provider()
    return found


async def providers(request: web.Request) -> web.Response:
    found = request.app[UPSTREAMS].dezi
    return json_response(UpstreamList(providers=[found.view] if found else []))


async def start_login(request: web.Request) -> web.Response:
    dezi = _dezi(request)
    await parse_body(request, UpstreamStart)
    return json_response(await dezi.login.start(), status=201)


async def complete_login(request: web.Request) -> web.Response:
    dezi = _dezi(request)
    answer = await parse_body(request, UpstreamAnswer)
    return json_response(await dezi.login.login(answer))


async def start_link(request: web.Request) -> web.Response:
    dezi = _dezi(request)
    token = bearer(request)
    await parse_body(request, UpstreamStart)
    return json_response(await dezi.link.start(token), status=201)


async def complete_link(request: web.Request) -> web.Response:
    dezi = _dezi(request)
    token = bearer(request)
    answer = await parse_body(request, UpstreamAnswer)
    return json_response(await dezi.link.complete(token, answer))


def routes(limited: Callable[[HandlerFn], HandlerFn]) -> tuple[Route, ...]:
    """The routes, the login's spending the caller's login budget (``limited``)."""
    return (
        Route(
            "GET",
            "/v1/upstream",
            providers,
            "The login means through an upstream OpenID Provider this deployment has (Dezi)",
            None,
            UpstreamList,
        ),
        Route(
            "POST",
            "/v1/upstream/{provider}/login",
            limited(start_login),
            "Start a login at the upstream: its authorization URL and the sealed request",
            UpstreamStart,
            UpstreamStarted,
            status=201,
            errors=(404, 429),
        ),
        Route(
            "POST",
            "/v1/upstream/{provider}/login/complete",
            limited(complete_login),
            "The upstream's answer (code, state, iss) with the sealed request logs its "
            "linked employee in",
            UpstreamAnswer,
            UpstreamLoginDone,
            errors=(401, 403, 404, 409, 429),
        ),
        Route(
            "POST",
            "/v1/upstream/{provider}/link",
            start_link,
            "Start linking the session's employee to their identity at the upstream",
            UpstreamStart,
            UpstreamStarted,
            True,
            status=201,
            errors=(404,),
        ),
        Route(
            "POST",
            "/v1/upstream/{provider}/link/complete",
            complete_link,
            "The upstream's answer for a link: auth's signed statement of the Dezi number, "
            "for enrolment's PUT /v1/dezi",
            UpstreamAnswer,
            DeziLinkProof,
            True,
            errors=(404, 409),
        ),
    )


#: Where Dezi sends the browser back: the web front door's page under the issuer.
CALLBACK = "/login/dezi/callback"


def dezi_config(settings: AuthSettings) -> UpstreamConfig:
    """Dezi as the deployment configured it (``TWEESTAP_DEZI_*``)."""
    key = settings.dezi_client_key.get_secret_value()
    return UpstreamConfig(
        name="dezi",
        display_name=settings.dezi_display_name,
        issuer=settings.dezi_issuer,
        client_id=settings.dezi_client_id,
        client_auth=settings.dezi_client_auth,
        redirect_uri=settings.dezi_redirect_uri or settings.issuer.rstrip("/") + CALLBACK,
        scopes=tuple(settings.dezi_scopes),
        prompt=settings.dezi_prompt,
        minimum_level=settings.dezi_minimum_level,
        login_seconds=settings.dezi_login_seconds,
        keep_seconds=settings.dezi_metadata_keep_seconds,
        timeout_seconds=settings.dezi_timeout_seconds,
        leeway_seconds=settings.leeway_seconds,
        client_secret=settings.dezi_client_secret.get_secret_value(),
        client_key=json.loads(key) if settings.dezi_client_auth == "private_key_jwt" else None,
    )


def build_dezi(settings: AuthSettings, adapters: Adapters, means: MeansLogin) -> Dezi:
    """The Dezi login and link over auth's adapters (its provider not yet reached)."""
    provider = UpstreamProvider(dezi_config(settings))
    identities = UpstreamIdentities(provider, adapters.keyring)
    minimum = settings.dezi_minimum_level
    return Dezi(
        login=DeziLogin(identities, adapters.pool, means, minimum),
        link=DeziLink(
            identities,
            adapters.pool,
            adapters.gate,
            adapters.signer,
            settings.issuer,
            minimum,
        ),
        provider=provider,
    )


def context(
    settings: AuthSettings,
    adapters: Callable[[web.Application], Adapters],
    means: Callable[[web.Application], MeansLogin],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context that builds the upstream logins once auth is up; none when no
    Dezi issuer is configured (the routes answer 404 ``upstream-unknown``)."""

    async def upstreams_ctx(app: web.Application) -> AsyncIterator[None]:
        found: Dezi | None = None
        if settings.dezi_enabled:
            found = build_dezi(settings, adapters(app), means(app))
        upstreams = Upstreams(dezi=found)
        app[UPSTREAMS] = upstreams
        try:
            yield
        finally:
            await upstreams.close()

    return upstreams_ctx
