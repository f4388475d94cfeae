"""What pages share: app keys, rendering with the session's locale and CSRF token, the SDK
client for a request, and the problem → message mapping."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jinja2
from aiohttp import web
from tweestap_client import TweestapClient, TweestapError, acting_for

from services.web import i18n
from services.web.claims import token_claims
from services.web.console.when import clock_time
from services.web.oidc import pending
from services.web.settings import WebSettings
from shared.assurance import LEVELS
from shared.ratelimit import Network, client_address

SETTINGS = web.AppKey("settings", WebSettings)
KEY = web.AppKey("session_key", bytes)
ENV = web.AppKey("jinja", jinja2.Environment)
#: One HTTP session per process, shared by the per-request SDK clients (kept connections).
HTTP = web.AppKey("http", aiohttp.ClientSession)
#: ``TWEESTAP_WEB_TRUSTED_PROXIES``, parsed once.
PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies")


@dataclass(frozen=True)
class WebRoute:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


def render(
    request: web.Request, template: str, values: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    session = request["session"]
    locale = session.get("locale", "nl")

    def t(key: str, **kw: str) -> str:
        return i18n.text(locale, key, **kw)

    page = (
        request.app[ENV]
        .get_template(template)
        .render(
            t=t,
            locale=locale,
            csrf=session["csrf"],
            logged_in=bool(session.get("token")),
            # Only which links to show: the console's pages and the services check again.
            is_admin=(token_claims(session.get("token")) or {}).get("rg") == 1,
            path=request.path,
            # The request of an application this login is for, if one waits (the login page
            # says where the person goes on to).
            oidc=pending.login_view(session, time.time()),
            **{"error": None, **(values or {})},
        )
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)


def message(request: web.Request, error: TweestapError) -> str:
    """A person's message for a refused step: ours when we know the problem, with the
    service's detail (e.g. the password policy's reason) where it says why."""
    locale = request["session"].get("locale", "nl")
    known = i18n.text(locale, f"error.{error.slug}")
    detail = str(error.problem.get("detail") or error.problem.get("title") or "")
    if known == f"error.{error.slug}":
        return detail or error.slug
    if error.slug in ("password-too-weak", "passkey-refused") and detail:
        return f"{known}: {detail}"
    if error.slug == "account-locked" and error.retry_after is not None:
        until = datetime.now(UTC) + timedelta(seconds=error.retry_after)
        return i18n.text(locale, "error.account-locked-until", time=clock_time(until))
    if error.slug == "assurance-level-too-low":
        level = str(error.problem.get("level"))
        if level in LEVELS[1:]:  # substantial or high: what a login can be short of
            how = i18n.text(locale, f"level.how.{level}")
            return i18n.text(
                locale, f"error.{error.slug}", level=i18n.text(locale, f"level.{level}"), how=how
            )
        return detail
    return known


def browser_address(request: web.Request) -> str:
    """The browser's address: the peer, or behind a proxy of ``TWEESTAP_WEB_TRUSTED_PROXIES``
    the client it forwarded for (the services' own rule, :func:`client_address`)."""
    forwarded = request.headers.getall("X-Forwarded-For", [])
    return client_address(request.remote, forwarded, request.app[PROXIES])


@asynccontextmanager
async def sdk(request: web.Request) -> AsyncIterator[TweestapClient]:
    """An SDK client for this request, holding the session's token (if any), acting for the
    browser's address; a renewed token goes back into the session."""
    session = request["session"]
    async with TweestapClient(request.app[SETTINGS].zones, http=request.app[HTTP]) as client:
        if session.get("token"):
            client.restore(session["token"])
        with acting_for(browser_address(request)):
            yield client
        if session.get("token") and client.saved is not None:
            session["token"] = client.saved
