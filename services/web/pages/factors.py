"""The employee's own factors: the list; add SMS or e-mail (confirmed by a code), add a
passkey (JavaScript), a new recovery code (after a confirmation)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from tweestap_client import NotLoggedIn, TweestapClient, TweestapError, ZonesUnavailable

from services.web import bodies, i18n, upstreams
from services.web.context import WebRoute, message, render, sdk


async def _call(
    request: web.Request, client: TweestapClient, method: str, path: str, body: Any = None
) -> Any:
    try:
        answer = await client.request("enrolment", method, path, body)
    except NotLoggedIn:
        request["session"].pop("token", None)
        raise web.HTTPSeeOther("/login") from None
    if answer.status >= 400:
        raise TweestapError(answer.status, answer.body)
    return answer.body


async def _page(request: web.Request, error: str | None = None, **extra: Any) -> web.Response:
    if not request["session"].get("token"):
        raise web.HTTPSeeOther("/login")
    async with sdk(request) as client:
        try:
            factors = await _call(request, client, "GET", "/v1/factors")
        except (TweestapError, ZonesUnavailable):
            factors = []
            error = error or i18n.text(request["session"]["locale"], "zones_down")
        live = await _live_sessions(client)
    means = await upstreams.providers(request)
    values = {"factors": factors, "live_sessions": live, "error": error, "upstreams": means}
    return render(request, "factors/list.html", {**values, **extra}, 400 if error else 200)


async def _live_sessions(client: TweestapClient) -> list[dict[str, Any]] | None:
    """The employee's live sessions in both zones (auth's), newest first; None when auth does
    not answer (the page shows the rest)."""
    try:
        answer = await client.request("auth", "GET", "/v1/sessions")
    except (NotLoggedIn, ZonesUnavailable):
        return None
    if answer.status != 200:
        return None
    return list(answer.body["sessions"])


async def show(request: web.Request) -> web.StreamResponse:
    fresh = request["session"].pop("recovery_code", None)
    if fresh:
        return await _page(request, recovery_code=fresh)
    # What the last task did (a text key), said once.
    notice = request["session"].pop("notice", None)
    return await _page(request, **({"notice": notice} if notice else {}))


async def add_code_factor(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    form = await request.post()
    field = "phone" if kind == "sms" else "email"
    body = {field: str(form.get(field, "")).strip() or None}
    async with sdk(request) as client:
        try:
            pending = await _call(request, client, "POST", f"/v1/factors/{kind}", body)
        except TweestapError as error:
            return await _page(request, message(request, error))
        except ZonesUnavailable:
            return await _page(request, i18n.text(request["session"]["locale"], "zones_down"))
    return await _page(request, pending=pending)


async def confirm(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    factor_id, code = str(form.get("factor_id", "")), str(form.get("code", "")).strip()
    async with sdk(request) as client:
        try:
            await _call(request, client, "POST", f"/v1/factors/{factor_id}/confirm", {"code": code})
        except TweestapError as error:
            pending = {"factor_id": factor_id, "sent_to": str(form.get("sent_to", ""))}
            return await _page(request, message(request, error), pending=pending)
    raise web.HTTPSeeOther("/factors")


async def recovery(request: web.Request) -> web.StreamResponse:
    """A new recovery code, which ends the current one: asked first on a page of its own, made
    only when that page's form confirms (``confirm``)."""
    if (await request.post()).get("confirm") != "yes":
        if not request["session"].get("token"):
            raise web.HTTPSeeOther("/login")
        return render(request, "factors/recovery.html", {})
    async with sdk(request) as client:
        try:
            answer = await _call(request, client, "POST", "/v1/recovery-code", {})
        except TweestapError as error:
            return await _page(request, message(request, error))
    return await _page(request, recovery_code=answer["recovery_code"])


async def passkey_options(request: web.Request) -> web.StreamResponse:
    async with sdk(request) as client:
        try:
            return web.json_response(
                await _call(request, client, "POST", "/v1/factors/passkey/options", {})
            )
        except TweestapError as error:
            return web.json_response({"error": message(request, error)}, status=400)


async def passkey_add(request: web.Request) -> web.StreamResponse:
    try:
        body = await bodies.read(request, bodies.PasskeyRegistration)
    except bodies.Refused as refused:
        return refused.response
    payload = body.model_dump(exclude_none=True)
    if not payload.get("name"):
        payload.pop("name", None)
    async with sdk(request) as client:
        try:
            await _call(request, client, "POST", "/v1/factors/passkey", payload)
        except TweestapError as error:
            return web.json_response({"error": message(request, error)}, status=400)
    return web.json_response({"next": "/factors"})


ROUTES = [
    WebRoute("GET", "/factors", show),
    WebRoute("POST", "/factors/{kind:sms|email}", add_code_factor),
    WebRoute("POST", "/factors/confirm", confirm),
    WebRoute("POST", "/factors/recovery", recovery),
    WebRoute("POST", "/factors/passkey/options", passkey_options),
    WebRoute("POST", "/factors/passkey", passkey_add),
]
