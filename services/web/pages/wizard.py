"""The enrolment wizard: activation code (by e-mail) + birth date + BSN → QR code and secret →
first code → the recovery code, shown once. Calls enrolment with the login's enrolment token.

The wizard's state (``session["wizard"]``: the login it belongs to, that login's enrolment token,
the enrolment's id) is bound to the login in progress: under another login, or none, it is
dropped unused, and a new login drops it anyway (:func:`services.web.session.restart`). The TOTP
secret is never kept here: it is on the QR page, and after a wrong first code the page shows
the error with the same QR again, fetched from enrolment for this login's wizard (the QR step
has not been left), and a way to start again (the identity step again shows the same secret,
to whoever proves the identity again)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from aiohttp import web
from tweestap_client import TweestapError, ZonesUnavailable

from services.web import dates, i18n
from services.web.console.when import clock_time
from services.web.context import WebRoute, message, render, sdk

#: Refusals after which the enrolment cannot go on: "start again" begins a new one.
_ENDED = ("not-found", "enrolment-expired", "enrolment-blocked")


def bind(session: dict[str, Any], login_id: str, enrolment_token: str) -> None:
    """The wizard of the login ``login_id`` (a login that must enrol first), with its token."""
    wizard = session.get("wizard") or {}
    if wizard.get("login") != login_id:
        wizard = {"login": login_id}
    session["wizard"] = {**wizard, "token": enrolment_token}


def _wizard(request: web.Request) -> dict[str, Any]:
    """The wizard of the login in progress; anything else is dropped and goes to the login."""
    session = request["session"]
    wizard = session.get("wizard")
    login_id = (session.get("login") or {}).get("id")
    if not wizard or not wizard.get("token") or not login_id or wizard.get("login") != login_id:
        session.pop("wizard", None)
        raise web.HTTPSeeOther("/login")
    return dict(wizard)


def _down(request: web.Request, page: str) -> web.Response:
    text = i18n.text(request["session"]["locale"], "zones_down")
    return render(request, page, {"error": text}, status=503)


async def start(request: web.Request) -> web.StreamResponse:
    """Asks enrolment for an activation code (e-mailed), once per wizard. Not for a link
    followed from another site (the session cookie is SameSite=Lax, ADR 0011): that gets the
    page with the way in, and the person's own click sends the code."""
    wizard = _wizard(request)
    if not wizard.get("id") and request.headers.get("Sec-Fetch-Site") == "cross-site":
        return render(request, "login/enrol.html", {})
    if not wizard.get("id"):
        async with sdk(request) as client:
            try:
                answer = await client.request(
                    "enrolment", "POST", "/v1/enrolment", {}, token=wizard["token"]
                )
            except ZonesUnavailable:
                return _down(request, "wizard/identity.html")
        if answer.status != 201 and answer.status != 200:
            error = TweestapError(answer.status, answer.body)
            return render(request, "wizard/identity.html", {"error": message(request, error)}, 400)
        wizard.update(
            id=answer.body["enrolment_id"],
            sent_to=answer.body["sent_to"],
            valid_until=clock_time(datetime.fromisoformat(answer.body["expires_at"])),
        )
        request["session"]["wizard"] = wizard
    shown = {"sent_to": wizard.get("sent_to"), "valid_until": wizard.get("valid_until")}
    return render(request, "wizard/identity.html", shown)


async def resend(request: web.Request) -> web.StreamResponse:
    """ "No code received?": a new activation code (the open one stops working), within the
    enrolment service's limit per hour."""
    wizard = _wizard(request)
    wizard.pop("id", None)
    request["session"]["wizard"] = wizard
    return await start(request)


async def identity(request: web.Request) -> web.StreamResponse:
    wizard = _wizard(request)
    form = await request.post()
    payload = {k: str(form.get(k, "")).strip() for k in ("activation_code", "bsn")}
    payload["birth_date"] = dates.from_parts(form, "birth_date")
    async with sdk(request) as client:
        try:
            answer = await client.request(
                "enrolment",
                "POST",
                f"/v1/enrolment/{wizard.get('id')}/identity",
                payload,
                token=wizard["token"],
            )
        except ZonesUnavailable:
            return _down(request, "wizard/identity.html")
    if answer.status != 200:
        error = TweestapError(answer.status, answer.body)
        text = message(request, error)
        if answer.status in (401, 403, 422):
            text = i18n.text(request["session"]["locale"], "error.activation-failed")
        values = {"error": text, "sent_to": wizard.get("sent_to")}
        return render(request, "wizard/identity.html", values, 400)
    return render(request, "wizard/totp.html", _shown(answer.body))


def _shown(body: dict[str, Any]) -> dict[str, Any]:
    """The QR page's values of enrolment's ``IdentityAccepted``."""
    qr = "data:image/svg+xml;base64," + base64.b64encode(str(body["qr_svg"]).encode()).decode()
    return {"secret": body["secret"], "qr": qr, "otpauth": body["otpauth_uri"]}


async def _shown_again(request: web.Request, wizard: dict[str, Any]) -> dict[str, Any]:
    """The QR of the wizard's enrolment while it waits for a first code; nothing when
    enrolment does not show it (any more)."""
    async with sdk(request) as client:
        try:
            answer = await client.request(
                "enrolment", "GET", f"/v1/enrolment/{wizard.get('id')}/totp", token=wizard["token"]
            )
        except ZonesUnavailable:
            return {}
    return _shown(answer.body) if answer.status == 200 else {}


async def confirm(request: web.Request) -> web.StreamResponse:
    wizard = _wizard(request)
    code = str((await request.post()).get("code", "")).strip()
    async with sdk(request) as client:
        try:
            answer = await client.request(
                "enrolment",
                "POST",
                f"/v1/enrolment/{wizard.get('id')}/confirm",
                {"code": code},
                token=wizard["token"],
            )
        except ZonesUnavailable:
            return _down(request, "wizard/totp.html")
    if answer.status not in (200, 201):
        error = TweestapError(answer.status, answer.body)
        values: dict[str, Any] = {"secret": None, "qr": None, "error": message(request, error)}
        if error.slug in _ENDED or error.problem.get("attempts_left") == 0:
            # This enrolment is over: starting again asks for a new activation code.
            request["session"]["wizard"] = {k: wizard[k] for k in ("login", "token")}
        elif error.slug == "invalid-code":
            # Still at the QR step: the same QR again, from enrolment (never from the cookie).
            values.update(await _shown_again(request, wizard))
        return render(request, "wizard/totp.html", values, 400)
    request["session"].pop("wizard", None)
    request["session"].pop("login", None)
    return render(request, "wizard/recovery.html", {"code": answer.body["recovery_code"]})


ROUTES = [
    WebRoute("POST", "/wizard/resend", resend),
    WebRoute("GET", "/wizard", start),
    WebRoute("POST", "/wizard/identity", identity),
    WebRoute("POST", "/wizard/confirm", confirm),
]
