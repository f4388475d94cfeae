"""``create_app(settings)``: one route table built from the page modules' route lists, the
session/CSRF/security-header middleware and the jinja2 templates (autoescape on)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import jinja2
from aiohttp import web

from services.web import csrf, headers, i18n
from services.web import session as sessions
from services.web.console import routes as console
from services.web.console.when import local_time
from services.web.context import ENV, HTTP, KEY, PROXIES, SETTINGS, WebRoute, render
from services.web.oidc import pending as oidc_pending
from services.web.oidc import routes as oidc
from services.web.pages import card_login, dezi_login, factors, login, own_factors, wizard
from services.web.redirects import local_path
from services.web.settings import WebSettings
from services.web.text import grouped
from services.web.upstreams import UPSTREAM_LOGINS, UpstreamLogins
from shared.ratelimit import parse_networks

HERE = Path(__file__).parent
#: Every page module's routes; the admin console's modules add theirs here.
PAGES: list[list[WebRoute]] = [
    login.ROUTES,
    card_login.ROUTES,
    dezi_login.ROUTES,
    wizard.ROUTES,
    factors.ROUTES,
    own_factors.ROUTES,
    console.ROUTES,
    oidc.ROUTES,
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _without_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The provider's relays and its cross-site POSTs: no cookie read or set, no CSRF check;
    a throwaway session only for the language of an error page."""
    language = i18n.negotiate(request.headers.get("Accept-Language"))
    request["session"] = sessions.new(time.time(), language)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    headers.apply(response.headers, static=False, cache=True)
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def _session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if oidc.sessionless(request.method, request.path):
        return await _without_session(request, handler)
    settings, key = request.app[SETTINGS], request.app[KEY]
    cookie = sessions.cookie_name(settings.https)
    now = time.time()
    raw = request.cookies.get(cookie)
    data = None
    if raw is not None:
        data = sessions.unseal(
            key, raw, now, settings.session_idle_seconds, settings.session_absolute_seconds
        )
    if data is None:
        data = sessions.new(now, i18n.negotiate(request.headers.get("Accept-Language")))
    data["seen"] = now
    request["session"] = data
    static = request.path.startswith("/static/")
    if request.method not in csrf.SAFE:
        given = request.headers.get(csrf.HEADER)
        if given is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            given = str((await request.post()).get(csrf.FIELD) or "") or None
        if raw is None or not csrf.valid(data.get("csrf") if raw else None, given):
            response: web.StreamResponse = render(
                request,
                "forbidden.html",
                {"message": i18n.text(data["locale"], "csrf_refused")},
                status=403,
            )
            headers.apply(response.headers, static=False)
            return response
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    headers.apply(response.headers, static, oidc_pending.form_targets(request["session"]))
    if not static:
        # Path=/ and no Domain always: what a __Host- cookie must have (and right for any).
        # SameSite=Lax, not Strict: an OpenID client sends the browser here from its own site
        # (``/authorize``, ``/end-session``), and the SSO session must come along on that
        # top-level navigation. Lax still keeps the cookie off every cross-site POST, fetch
        # and frame, and every POST carries the CSRF secret besides.
        flags: dict[str, Any] = {"httponly": True, "samesite": "Lax", "secure": settings.https}
        if request.get("session_end"):
            response.del_cookie(cookie, path="/", **flags)
        else:
            response.set_cookie(cookie, sessions.seal(key, request["session"]), path="/", **flags)
    if isinstance(response, web.HTTPException):
        raise response
    return response


async def _language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    locale = str(form.get("locale", ""))
    if locale in i18n.LOCALES:
        request["session"]["locale"] = locale
    raise web.HTTPSeeOther(local_path(str(form.get("back", "/"))))


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/factors" if request["session"].get("token") else "/login")


async def _http(app: web.Application) -> AsyncIterator[None]:
    """The HTTP session to the services, opened once for the process (not per request)."""
    async with aiohttp.ClientSession() as session:
        app[HTTP] = session
        yield


def create_app(settings: WebSettings) -> web.Application:
    app = web.Application(middlewares=[_session_middleware], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[KEY] = settings.sealing_key()
    app[PROXIES] = parse_networks(settings.trusted_proxies)
    app[UPSTREAM_LOGINS] = UpstreamLogins()
    app[ENV] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app[ENV].filters["local_time"] = local_time
    app[ENV].filters["grouped"] = grouped
    app.router.add_get("/", _home)
    app.router.add_post("/language", _language)
    for routes in PAGES:
        for route in routes:
            app.router.add_route(route.method, route.path, route.handler)
    app.router.add_static("/static/", HERE / "static")
    app.cleanup_ctx.append(_http)
    return app
