"""``/authorize``: the authorization request (OpenID Connect Core §3.1.2, RFC 9126's pushed
ones by ``request_uri``), answered from the SSO session or after a login on this site's pages,
and ``/authorize/resume``, where a completed login goes on to the request waiting for it.

Until the client and its redirect URI are known to be right (the client registered and
active at auth, the URI one of its own, exactly), a fault is shown on the provider's own page
and never sent anywhere (RFC 6749 §4.1.2.1); after that, every answer goes back to the
redirect URI with ``state`` and ``iss`` (RFC 9207)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import NoReturn
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping
from tweestap_client import ZonesUnavailable

from services.web import i18n
from services.web.claims import token_claims
from services.web.context import SETTINGS, render
from services.web.oidc import bodies, calls, pending
from services.web.oidc.decision import (
    Issue,
    Login,
    Refuse,
    decide,
    sso_of,
    wants_second_factor,
)
from services.web.oidc.redirects import authorization_response
from shared import assurance
from shared.oidc import (
    AuthorizationError,
    asked_level,
    client_and_redirect,
    read_request,
    single,
)

#: The longest authorization request the web takes as a query (aiohttp reads request lines of
#: 8 KiB): a larger one is pushed (RFC 9126).
MAX_QUERY = 7 * 1024

Params = dict[str, list[str]]


class Shown(Exception):
    """A fault shown on the provider's page (``key``: its text), never redirected."""

    def __init__(self, key: str, detail: str = "", status: int = 400) -> None:
        super().__init__(key)
        self.key, self.detail, self.status = key, detail, status


def error_page(request: web.Request, shown: Shown) -> web.Response:
    locale = request["session"]["locale"]
    values = {"message": i18n.text(locale, shown.key), "detail": shown.detail}
    return render(request, "oidc/error.html", values, status=shown.status)


def _params(query: MultiMapping[str]) -> Params:
    params: Params = {}
    for name, value in query.items():
        params.setdefault(name, []).append(value)
    return params


def _state(params: Mapping[str, Sequence[str]]) -> str | None:
    """The request's ``state`` for an error sent back (none when it is itself at fault)."""
    try:
        return single(params, "state")
    except AuthorizationError:
        return None


def _to_client(
    request: web.Request, redirect_uri: str, state: str | None, **params: str
) -> NoReturn:
    issuer = request.app[SETTINGS].issuer
    raise web.HTTPFound(authorization_response(redirect_uri, issuer, state, **params))


async def authorize(request: web.Request) -> web.StreamResponse:
    """``GET /authorize``."""
    try:
        return await _begin(request, _params(request.query))
    except Shown as shown:
        return error_page(request, shown)
    except ZonesUnavailable:
        return error_page(request, Shown("zones_down", status=503))
    except calls.Refused as refused:
        return error_page(request, Shown("oidc.request_invalid", refused.slug))


async def authorize_post(request: web.Request) -> web.StreamResponse:
    """``POST /authorize`` (a form a client's page posts, §3.1.2.1): read without the session —
    a form from another site carries no SameSite=Lax cookie, and an answer setting one would
    end the person's SSO session — and turned into the same request by GET, which does."""
    try:
        form = await bodies.read(request)
    except bodies.BadBody as bad:
        return error_page(request, Shown("oidc.request_invalid", bad.description, bad.status))
    query = urlencode(form.form or [])
    if len(query) > MAX_QUERY:
        return error_page(request, Shown("oidc.request_invalid", "the request is too large"))
    raise web.HTTPSeeOther(f"/authorize?{query}")


async def _begin(request: web.Request, params: Params) -> web.StreamResponse:
    try:
        client_id, redirect = client_and_redirect(params)
    except AuthorizationError as error:
        raise Shown("oidc.request_invalid", error.description) from None
    client = await calls.client(request, client_id)
    if client is None:
        raise Shown("oidc.unknown_client", f"client_id {client_id[:64]!r}")
    pushed = "request_uri" in params
    if pushed:
        params, redirect = await _pushed(request, client, params)
    redirect_uri = _registered(client, redirect)
    session, now = request["session"], time.time()
    try:
        asked = read_request(params, redirect_uri, pushed=pushed)
        level = assurance.highest((asked_level(asked.acr_values) or "low", client.min_level))
        second = wants_second_factor(asked) or level != "low"
        kept = pending.keep(session, asked, client.name, now, second, level)
    except AuthorizationError as error:
        if not error.redirectable:
            raise Shown("oidc.request_invalid", error.description) from None
        _to_client(
            request,
            redirect_uri,
            _state(params),
            error=error.error,
            error_description=error.description,
        )
    locale = pending.locale_of(asked)
    if locale is not None:
        session["locale"] = locale
    return await answer(request, kept, now)


async def _pushed(
    request: web.Request, client: calls.Client, params: Params
) -> tuple[Params, str | None]:
    """The pushed request's own parameters (RFC 9126 §4: those of the query are not used),
    for the client that pushed it."""
    try:
        request_uri = single(params, "request_uri") or ""
    except AuthorizationError as error:
        raise Shown("oidc.request_invalid", error.description) from None
    try:
        found = await calls.pushed(request, client.client_id, request_uri)
        client_id, redirect = client_and_redirect(found)
    except (calls.Refused, AuthorizationError):
        raise Shown("oidc.request_uri", "request_uri is unknown, expired or spent") from None
    if client_id != client.client_id:
        raise Shown("oidc.request_uri", "request_uri is another client's")
    return found, redirect


def _registered(client: calls.Client, redirect: str | None) -> str:
    """The redirect URI, exactly one the client registered; without one, the client's only
    one (RFC 6749 §3.1.2.3)."""
    if redirect is None:
        if len(client.redirect_uris) == 1:
            return client.redirect_uris[0]
        raise Shown("oidc.redirect_missing", "redirect_uri is missing")
    if redirect not in client.redirect_uris:
        raise Shown("oidc.redirect_unregistered", "redirect_uri is not registered")
    return redirect


async def answer(request: web.Request, kept: pending.Pending, now: float) -> web.StreamResponse:
    """The waiting request answered: a code from the SSO session, an error back to the client
    (``prompt=none``), or the login page (with a second factor when it must)."""
    session, asked = request["session"], kept.request
    sso = sso_of(token_claims(session.get("token")))
    fresh = sso is not None and kept.answered_by(sso.sid)
    verdict = decide(asked, sso, fresh, now, kept.level)
    if isinstance(verdict, Issue):
        try:
            code = await calls.issue_code(request, asked)
        except ZonesUnavailable:
            pending.drop(session)
            _to_client(
                request,
                asked.redirect_uri,
                asked.state,
                error="temporarily_unavailable",
                error_description="no zone of Tweestap answered",
            )
        except calls.Refused as refused:
            pending.drop(session)
            key = "oidc.unknown_client" if refused.status == 404 else "oidc.request_invalid"
            raise Shown(key, refused.slug) from None
        if code is not None:
            pending.drop(session)
            _to_client(request, asked.redirect_uri, asked.state, code=code)
        session.pop("token", None)  # the SSO session ended at auth: a login starts a new one
        verdict = decide(asked, None, False, now, kept.level)
    if isinstance(verdict, Refuse):
        pending.drop(session)
        _to_client(
            request,
            asked.redirect_uri,
            asked.state,
            error=verdict.error,
            error_description=verdict.description,
        )
    assert isinstance(verdict, Login)  # without a session: a login, or a refusal above
    pending.mark_second_factor(session, verdict.second_factor)
    raise web.HTTPSeeOther("/login")


async def resume(request: web.Request) -> web.StreamResponse:
    """``GET /authorize/resume``: where a login completed for a waiting request goes (a new
    recovery code, when the login spent one, is shown first)."""
    session, now = request["session"], time.time()
    kept = pending.current(session, now)
    if kept is None:
        return error_page(request, Shown("oidc.nothing_pending"))
    code = session.pop("recovery_code", None)
    if code:
        return render(request, "oidc/recovery.html", {"code": code, "client": kept.client})
    try:
        return await answer(request, kept, now)
    except Shown as shown:
        return error_page(request, shown)
