"""The employee's own account tasks on the factors page (issue 25): removing one sign-in
method, behind a confirmation page. Enrolment decides (a recent strong login, never the last
authenticator app or passkey); a refusal is shown on the confirmation page."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from tweestap_client import TweestapError, ZonesUnavailable

from services.web import i18n
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


ROUTES = [
    WebRoute("GET", f"/factors/{{id:{FACTOR_ID}}}/remove", confirm_removal),
    WebRoute("POST", f"/factors/{{id:{FACTOR_ID}}}/remove", remove),
]
