"""Logging in with Dezi, and linking it, in the browser (docs/adr/0014).

The web is the door, auth the relying party: ``/login/dezi`` asks auth for a login request
(its authorization URL, and a sealed ticket holding its ``state``, ``nonce`` and PKCE
verifier), keeps the ticket in this browser's sealed session and sends the browser to Dezi.
Dezi sends it back to ``/login/dezi/callback`` with a code; the web passes code, state and
``iss`` with the ticket to auth, which checks them all, redeems the code and verifies the ID
token and userinfo. Only when auth answers with a session does this browser's session change
(the one before it ends): any refusal shows a page and leaves everything as it was. The ticket
is used once: it leaves the session when the browser comes back, whatever the answer.

A link is the same round trip from a two-factor session (``/factors/dezi``): auth answers with
a statement it signed of the Dezi number, which enrolment records on the employee."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from aiohttp import web
from tweestap_client import NotLoggedIn, TweestapClient, TweestapError, ZonesUnavailable

from services.web import i18n
from services.web import session as sessions
from services.web.context import WebRoute, message, render, sdk
from services.web.oidc import pending
from services.web.oidc.calls import relaying
from services.web.pages import dezi_texts
from shared.assurance import LEVELS

dezi_texts.register()

PROVIDER = "dezi"
#: Where this browser's Dezi request waits while the person is at Dezi.
KEY = "dezi"
TEMPLATE = "dezi/page.html"
#: How long the web keeps the request (auth's ticket has its own, shorter or equal, life).
WAIT_SECONDS = 3600
AUTH = f"/v1/upstream/{PROVIDER}"


def _text(request: web.Request, key: str, **values: str) -> str:
    return i18n.text(request["session"]["locale"], key, **values)


def _page(
    request: web.Request,
    error: str | None,
    status: int,
    *,
    link: bool = False,
    title: str = "dezi.refused",
    **values: Any,
) -> web.Response:
    again = "/factors/dezi/start" if link else "/login/dezi"
    context = {
        "done": None,
        "intro": None,
        "title": title,
        "error": error,
        "start": again if status != 404 else None,
        "start_label": "dezi.link_button" if link else "dezi.again",
        "back": "/factors" if link else "/login",
        "back_label": "dezi.factors" if link else "dezi.back",
        **values,
    }
    return render(request, TEMPLATE, context, status)


def _down(request: web.Request, error: ZonesUnavailable, link: bool = False) -> web.Response:
    """Dezi down (auth's 503 ``upstream-unavailable`` in every zone), or Tweestap itself."""
    key = "error.upstream-unavailable" if error.slug == "upstream-unavailable" else "zones_down"
    return _page(request, _text(request, key), 503, link=link)


def _slug(body: Any) -> str:
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else ""


def _refused(request: web.Request, status: int, body: Any, link: bool = False) -> web.Response:
    """A page for auth's or enrolment's refusal: ours for the problems we know, 503 for
    anything of theirs that failed."""
    error = TweestapError(status, body if isinstance(body, dict) else {})
    shown = 503 if status >= 500 else status
    return _page(request, message(request, error) if _slug(body) else None, shown, link=link)


def _away(request: web.Request, started: Any, purpose: str, form_id: str = "") -> web.Response:
    """Keep auth's ticket in the session and send the browser to Dezi."""
    if not isinstance(started, dict) or not isinstance(started.get("ticket"), str):
        return _page(request, _text(request, "error.upstream-unavailable"), 503)
    request["session"][KEY] = {
        "ticket": started["ticket"],
        "purpose": purpose,
        "pending": form_id,
        "at": time.time(),
    }
    raise web.HTTPSeeOther(str(started["authorization_url"]))


# -- the login ---------------------------------------------------------------------------------


async def start(request: web.Request) -> web.StreamResponse:
    """A login at Dezi for this browser (``pending``: the waiting application's request the
    login page was made for)."""
    form_id = request.query.get("pending", "")[:100]
    try:
        async with relaying(request) as client:
            answer = await client.relay("POST", f"{AUTH}/login", json={}, repeatable=True)
    except ZonesUnavailable as error:
        return _down(request, error)
    if answer.status != 201:
        return _refused(request, answer.status, answer.body)
    return _away(request, answer.body, "login", form_id)


def _waiting_request(request: web.Request) -> dict[str, Any] | None:
    """This browser's Dezi request, taken out of the session (used once), if it has one that
    is not too old."""
    kept = request["session"].pop(KEY, None)
    if not isinstance(kept, dict) or time.time() - float(kept.get("at", 0)) > WAIT_SECONDS:
        return None
    return kept


def _answer(request: web.Request, kept: dict[str, Any]) -> dict[str, Any]:
    query = request.query
    answer = {
        "ticket": kept["ticket"],
        "code": query.get("code", "")[:2000],
        "state": query.get("state", "")[:500],
    }
    if "iss" in query:
        answer["iss"] = query["iss"][:2000]
    return answer


async def callback(request: web.Request) -> web.StreamResponse:
    """Dezi's answer: a session when auth accepts it, else a page saying why (nothing else
    changes)."""
    kept = _waiting_request(request)
    if kept is None:
        return _page(request, _text(request, "dezi.no_request"), 400)
    link = kept.get("purpose") == "link"
    if "error" in request.query or "code" not in request.query:
        return _page(request, _text(request, "dezi.cancelled"), 400, link=link)
    if link:
        return await _finish_link(request, _answer(request, kept))
    return await _finish_login(request, _answer(request, kept), str(kept.get("pending", "")))


async def _finish_login(
    request: web.Request, answer: dict[str, Any], form_id: str
) -> web.StreamResponse:
    now = time.time()
    session = request["session"]
    waiting = pending.for_login(session, form_id, now)
    level = (waiting or {}).get("level")
    if level in LEVELS and level != "low":
        answer["level"] = level
    try:
        async with relaying(request) as fresh:
            await fresh.upstream_login(PROVIDER, answer)
            record = fresh.saved
    except TweestapError as error:
        return _refused(request, error.status, error.problem)
    except ZonesUnavailable as error:
        return _down(request, error)
    # Accepted: the session before this one ends, and this browser holds the new one.
    async with sdk(request) as old:
        if old.saved is not None:
            with contextlib.suppress(TweestapError, ZonesUnavailable):
                await old.logout()
    sessions.restart(session, now, keep_csrf=True)
    if waiting is not None:
        session[pending.KEY] = waiting
    session["token"] = record or {}
    raise web.HTTPSeeOther(pending.after_login(session, now))


# -- the link ----------------------------------------------------------------------------------


async def _call(
    request: web.Request, client: TweestapClient, service: str, method: str, path: str, body: Any
) -> tuple[int, Any]:
    try:
        answer = await client.request(service, method, path, body)
    except NotLoggedIn:
        request["session"].pop("token", None)
        raise web.HTTPSeeOther("/login") from None
    return answer.status, answer.body


async def link_page(request: web.Request) -> web.StreamResponse:
    """What linking does, and the button."""
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    return _page(request, None, 200, link=True, title="dezi.link_title", intro="dezi.link_intro")


async def start_link(request: web.Request) -> web.StreamResponse:
    """A link at Dezi for the session's employee (auth checks it logged in with two
    factors)."""
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    try:
        async with sdk(request) as client:
            status, body = await _call(request, client, "auth", "POST", f"{AUTH}/link", {})
    except ZonesUnavailable as error:
        return _down(request, error, link=True)
    if status != 201:
        return _refused(request, status, body, link=True)
    return _away(request, body, "link")


async def _finish_link(request: web.Request, answer: dict[str, Any]) -> web.StreamResponse:
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    try:
        async with sdk(request) as client:
            status, proof = await _call(
                request, client, "auth", "POST", f"{AUTH}/link/complete", answer
            )
            if status != 200:
                return _refused(request, status, proof, link=True)
            body = {"assertion": proof["assertion"]}
            status, linked = await _call(request, client, "enrolment", "PUT", "/v1/dezi", body)
    except ZonesUnavailable as error:
        return _down(request, error, link=True)
    if status != 200:
        return _refused(request, status, linked, link=True)
    done = _text(request, "dezi.linked", number=str(linked["dezi_number"]))
    return render(
        request,
        TEMPLATE,
        {
            "title": "dezi.linked_title",  # a title of its own, not the link page's
            "done": done,
            "intro": None,
            "start": None,
            "start_label": "",
            "back": "/factors",
            "back_label": "dezi.factors",
        },
    )


ROUTES = [
    WebRoute("GET", "/login/dezi", start),
    WebRoute("GET", "/login/dezi/callback", callback),
    WebRoute("GET", "/factors/dezi", link_page),
    WebRoute("GET", "/factors/dezi/start", start_link),
]
