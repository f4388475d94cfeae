"""The employee's own account tasks on the factors page (issue 25): removing one sign-in
method, behind a confirmation page; renaming a passkey; replacing the authenticator app (a new
phone: the QR code, then the new app's first code). Enrolment decides (a recent strong login,
never the last authenticator app or passkey); a refusal is shown on the task's page. As in the
wizard, the new app's secret is never kept: it is on the QR page once."""

from __future__ import annotations

import base64
import time
from typing import Any

from aiohttp import web
from tweestap_client import NotLoggedIn, Response, TweestapError, ZonesUnavailable

from services.web import i18n
from services.web import session as sessions
from services.web.context import WebRoute, message, render, sdk
from services.web.pages import own_texts
from services.web.pages.factors import _call

own_texts.register()

#: A factor id as enrolment makes them (``shared.events.FACTOR_ID_PATTERN``).
FACTOR_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}"


async def _own_factor(request: web.Request) -> dict[str, Any]:
    """The session's factor named in the path; the factors page when it has none such."""
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    factor_id = request.match_info["id"]
    async with sdk(request) as client:
        listed = await _call(request, client, "GET", "/v1/factors")
    found = next((f for f in listed if f.get("factor_id") == factor_id), None)
    if not isinstance(found, dict):
        raise web.HTTPSeeOther("/factors")
    return found


async def confirm_removal(request: web.Request) -> web.StreamResponse:
    try:
        factor = await _own_factor(request)
    except (TweestapError, ZonesUnavailable):
        raise web.HTTPSeeOther("/factors") from None
    return render(request, "factors/remove.html", {"factor": factor})


async def remove(request: web.Request) -> web.StreamResponse:
    try:
        factor = await _own_factor(request)
    except (TweestapError, ZonesUnavailable):
        raise web.HTTPSeeOther("/factors") from None
    async with sdk(request) as client:
        try:
            await _call(request, client, "DELETE", f"/v1/factors/{factor['factor_id']}")
        except TweestapError as error:
            shown = message(request, error)
        except ZonesUnavailable:
            shown = i18n.text(request["session"]["locale"], "zones_down")
        else:
            request["session"]["notice"] = "own.removed"
            raise web.HTTPSeeOther("/factors")
    return render(request, "factors/remove.html", {"factor": factor, "error": shown}, 400)


#: A passkey's name, bounded as enrolment bounds it (``FactorNameRequest``).
NAME_MAX = 100


async def confirm_name(request: web.Request) -> web.StreamResponse:
    try:
        factor = await _own_factor(request)
    except (TweestapError, ZonesUnavailable):
        raise web.HTTPSeeOther("/factors") from None
    return render(request, "factors/name.html", {"factor": factor, "value": factor.get("name")})


async def name(request: web.Request) -> web.StreamResponse:
    """A passkey's new name (no fresh login needed: a name changes no way of logging in)."""
    try:
        factor = await _own_factor(request)
    except (TweestapError, ZonesUnavailable):
        raise web.HTTPSeeOther("/factors") from None
    value = str((await request.post()).get("name", "")).strip()
    locale = request["session"]["locale"]
    shown = i18n.text(locale, "own.name.invalid") if not 0 < len(value) <= NAME_MAX else None
    if shown is None:
        async with sdk(request) as client:
            try:
                path = f"/v1/factors/{factor['factor_id']}"
                await _call(request, client, "PATCH", path, {"name": value})
            except TweestapError as error:
                invalid = error.status == 422
                shown = (
                    i18n.text(locale, "own.name.invalid") if invalid else message(request, error)
                )
            except ZonesUnavailable:
                shown = i18n.text(locale, "zones_down")
            else:
                request["session"]["notice"] = "own.named"
                raise web.HTTPSeeOther("/factors")
    values = {"factor": factor, "value": value, "error": shown}
    return render(request, "factors/name.html", values, 400)


def _app_page(request: web.Request, values: dict[str, Any], status: int = 200) -> web.Response:
    return render(request, "factors/app.html", {"secret": None, **values}, status)


async def replace_app(request: web.Request) -> web.StreamResponse:
    """A new secret for the new phone's app (the old app keeps working until confirmed)."""
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    async with sdk(request) as client:
        try:
            answer = await _call(request, client, "POST", "/v1/factors/totp", {})
        except TweestapError as error:
            return _app_page(request, {"error": message(request, error)}, 400)
        except ZonesUnavailable:
            error_text = i18n.text(request["session"]["locale"], "zones_down")
            return _app_page(request, {"error": error_text}, 503)
    svg = base64.b64encode(str(answer["qr_svg"]).encode()).decode()
    values = {
        "secret": answer["secret"],
        "qr": f"data:image/svg+xml;base64,{svg}",
        "enrolment_id": answer["enrolment_id"],
    }
    return _app_page(request, values)


async def confirm_app(request: web.Request) -> web.StreamResponse:
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    form = await request.post()
    enrolment_id = str(form.get("enrolment_id", ""))
    code = str(form.get("code", "")).strip()
    path = f"/v1/factors/totp/{enrolment_id}/confirm"
    async with sdk(request) as client:
        try:
            await _call(request, client, "POST", path, {"code": code})
        except TweestapError as error:
            # The same enrolment takes another code until it is over (then: start again).
            over = error.status in (404, 410) or error.problem.get("attempts_left") == 0
            values = {
                "error": message(request, error),
                "enrolment_id": None if over else enrolment_id,
            }
            return _app_page(request, values, 400)
        except ZonesUnavailable:
            error_text = i18n.text(request["session"]["locale"], "zones_down")
            return _app_page(request, {"error": error_text, "enrolment_id": enrolment_id}, 503)
    request["session"]["notice"] = "own.app.replaced"
    raise web.HTTPSeeOther("/factors")


async def end_sessions(request: web.Request) -> web.StreamResponse:
    """Every session of the employee ends at auth (every application's, this one's too); the
    browser's session starts afresh at the login page."""
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    async with sdk(request) as client:
        try:
            answer = await client.request("auth", "POST", "/v1/sessions/end", {})
        except NotLoggedIn:
            answer = Response(401, {}, {})
        except ZonesUnavailable:
            answer = None
    if answer is None or (answer.status >= 400 and answer.status != 401):
        request["session"]["notice"] = "own.sessions.failed"
        raise web.HTTPSeeOther("/factors")
    sessions.restart(request["session"], time.time())
    raise web.HTTPSeeOther("/login")


ROUTES = [
    WebRoute("POST", "/factors/sessions/end", end_sessions),
    WebRoute("POST", "/factors/app", replace_app),
    WebRoute("POST", "/factors/app/confirm", confirm_app),
    WebRoute("GET", f"/factors/{{id:{FACTOR_ID}}}/remove", confirm_removal),
    WebRoute("POST", f"/factors/{{id:{FACTOR_ID}}}/remove", remove),
    WebRoute("GET", f"/factors/{{id:{FACTOR_ID}}}/name", confirm_name),
    WebRoute("POST", f"/factors/{{id:{FACTOR_ID}}}/name", name),
]
