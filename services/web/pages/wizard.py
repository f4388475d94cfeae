"""The enrolment wizard: activation code (by e-mail) + birth date + BSN → QR code and secret →
first code → the recovery code, shown once. Calls enrolment with the login's enrolment token."""

from __future__ import annotations

import base64

from aiohttp import web
from tweestap_client import TweestapError, ZonesUnavailable

from services.web import i18n
from services.web.context import WebRoute, message, render, sdk


def _token(request: web.Request) -> str:
    token = request["session"].get("enrolment_token")
    if not token:
        raise web.HTTPSeeOther("/login")
    return str(token)


def _down(request: web.Request, page: str) -> web.Response:
    text = i18n.text(request["session"]["locale"], "zones_down")
    return render(request, page, {"error": text}, status=503)


async def start(request: web.Request) -> web.StreamResponse:
    """Asks enrolment for an activation code (e-mailed), once per wizard."""
    token = _token(request)
    wizard = request["session"].setdefault("wizard", {})
    if not wizard.get("id"):
        async with sdk(request) as client:
            try:
                answer = await client.request("enrolment", "POST", "/v1/enrolment", {}, token=token)
            except ZonesUnavailable:
                return _down(request, "wizard/identity.html")
        if answer.status != 201 and answer.status != 200:
            error = TweestapError(answer.status, answer.body)
            return render(request, "wizard/identity.html", {"error": message(request, error)}, 400)
        wizard.update(id=answer.body["enrolment_id"], sent_to=answer.body["sent_to"])
    return render(request, "wizard/identity.html", {"wizard": wizard})


async def identity(request: web.Request) -> web.StreamResponse:
    token = _token(request)
    wizard = request["session"].get("wizard") or {}
    form = await request.post()
    payload = {k: str(form.get(k, "")).strip() for k in ("activation_code", "birth_date", "bsn")}
    async with sdk(request) as client:
        try:
            answer = await client.request(
                "enrolment",
                "POST",
                f"/v1/enrolment/{wizard.get('id')}/identity",
                payload,
                token=token,
            )
        except ZonesUnavailable:
            return _down(request, "wizard/identity.html")
    if answer.status != 200:
        error = TweestapError(answer.status, answer.body)
        text = message(request, error)
        if answer.status in (401, 403, 422):
            text = i18n.text(request["session"]["locale"], "error.activation-failed")
        return render(request, "wizard/identity.html", {"error": text, "wizard": wizard}, 400)
    return _qr_page(request, answer.body["secret"], answer.body["qr_svg"], None)


def _qr_page(request: web.Request, secret: str, svg: str, error: str | None) -> web.Response:
    request["session"]["wizard"]["secret"] = secret
    qr = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return render(
        request,
        "wizard/totp.html",
        {"secret": secret, "qr": qr, "error": error},
        400 if error else 200,
    )


async def confirm(request: web.Request) -> web.StreamResponse:
    token = _token(request)
    wizard = request["session"].get("wizard") or {}
    code = str((await request.post()).get("code", "")).strip()
    async with sdk(request) as client:
        try:
            answer = await client.request(
                "enrolment",
                "POST",
                f"/v1/enrolment/{wizard.get('id')}/confirm",
                {"code": code},
                token=token,
            )
        except ZonesUnavailable:
            return _down(request, "wizard/identity.html")
    if answer.status not in (200, 201):
        text = message(request, TweestapError(answer.status, answer.body))
        return render(
            request,
            "wizard/totp.html",
            {"secret": wizard.get("secret", ""), "qr": None, "error": text},
            400,
        )
    request["session"].pop("wizard", None)
    request["session"].pop("enrolment_token", None)
    request["session"].pop("login", None)
    return render(request, "wizard/recovery.html", {"code": answer.body["recovery_code"]})


ROUTES = [
    WebRoute("GET", "/wizard", start),
    WebRoute("POST", "/wizard/identity", identity),
    WebRoute("POST", "/wizard/confirm", confirm),
]
