"""``/end-session``: RP-Initiated Logout 1.0. Auth reads the request (the ``id_token_hint``'s
session, the ``post_logout_redirect_uri`` only when registered for that client); the web ends
this browser's SSO session — at once when the hint names it, else after the person confirms
on a page of this site (a cross-site link must not log anyone out) — and sends the browser to
the validated URI with ``state``, or shows that they are logged out."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from aiohttp import web
from tweestap_client import ZonesUnavailable

from services.web import session as sessions
from services.web.claims import token_claims
from services.web.context import render, sdk
from services.web.oidc import bodies, calls, pending
from services.web.oidc.authorize import MAX_QUERY, Shown, error_page
from services.web.oidc.decision import sso_of
from services.web.oidc.redirects import with_query
from shared.oidc import AuthorizationError, single

PARAMETERS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")


async def end_session(request: web.Request) -> web.StreamResponse:
    """``GET /end-session``."""
    params: dict[str, list[str]] = {}
    for name, value in request.query.items():
        params.setdefault(name, []).append(value)
    try:
        hint, client_id, redirect, state, locales = (single(params, n) for n in PARAMETERS)
    except AuthorizationError as error:
        return error_page(request, Shown("oidc.request_invalid", error.description))
    session = request["session"]
    language = (locales or "").split(" ")[0].split("-")[0].lower()
    if language in ("nl", "en"):
        session["locale"] = language
    try:
        check = await calls.logout_check(request, hint, client_id, redirect)
        client = await calls.client(request, check.client_id) if check.client_id else None
    except ZonesUnavailable:
        return error_page(request, Shown("zones_down", status=503))
    except calls.Refused as refused:
        return error_page(request, Shown("oidc.request_invalid", refused.slug))
    to = check.post_logout_redirect_uri
    if to is not None:
        to = with_query(to, {"state": state})
    sso = sso_of(token_claims(session.get("token")))
    if sso is None or (check.sid is not None and check.sid == sso.sid):
        if sso is not None:
            await _log_out(request)
        return _leave(request, to)
    name = client.name if client is not None else (check.client_id or "")
    session[pending.LOGOUT] = {"to": to, "client": name[:100]}
    return render(request, "oidc/logout.html", {"client": name})


async def end_session_post(request: web.Request) -> web.StreamResponse:
    """``POST /end-session`` (a client's page may post it): without the session, as the
    authorization request's POST, turned into the same request by GET."""
    try:
        form = await bodies.read(request)
    except bodies.BadBody as bad:
        return error_page(request, Shown("oidc.request_invalid", bad.description, bad.status))
    query = urlencode(form.form or [])
    if len(query) > MAX_QUERY:
        return error_page(request, Shown("oidc.request_invalid", "the request is too large"))
    raise web.HTTPSeeOther(f"/end-session?{query}")


async def confirm(request: web.Request) -> web.StreamResponse:
    """``POST /end-session/confirm`` (CSRF-checked): the person said yes."""
    entry = request["session"].get(pending.LOGOUT) or {}
    to = entry.get("to") if isinstance(entry.get("to"), str) else None
    await _log_out(request)
    return _leave(request, to)


async def cancel(request: web.Request) -> web.StreamResponse:
    """``GET /end-session/cancel``: the person stays logged in."""
    request["session"].pop(pending.LOGOUT, None)
    raise web.HTTPSeeOther("/")


async def _log_out(request: web.Request) -> None:
    """The SSO session ended at auth (its grants with it) and a fresh browser session."""
    async with sdk(request) as client:
        if client.saved is not None:
            await client.logout()
    sessions.restart(request["session"], time.time())


def _leave(request: web.Request, to: str | None) -> web.StreamResponse:
    if to is not None:
        raise web.HTTPSeeOther(to)
    return render(request, "oidc/logged_out.html", {})
