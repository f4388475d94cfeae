"""Auth's routes of the logins through an upstream OpenID Provider (Dezi; docs/adr/0014):
what the web front door asks while a browser goes to the upstream and comes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from services.auth import upstream_problems as problems
from services.auth.adapters.upstream import UpstreamProvider
from services.auth.api_upstream import (
    DeziLinkProof,
    UpstreamAnswer,
    UpstreamList,
    UpstreamLoginDone,
    UpstreamStart,
    UpstreamStarted,
    UpstreamView,
)
from services.auth.use_cases.dezi import DeziLink, DeziLogin
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
