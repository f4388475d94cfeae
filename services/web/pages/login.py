"""The login: password, forced password change, choice of second factor, then its step."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from tweestap_client import LoginInterrupted, Step, TweestapClient, TweestapError, ZonesUnavailable

from services.web import bodies, i18n, upstreams
from services.web import session as sessions
from services.web.context import WebRoute, message, render, sdk
from services.web.oidc import pending
from services.web.pages import wizard
from services.web.upstreams import UPSTREAM_LOGINS
from shared import factor_kinds
from shared.assurance import LEVELS, Level

#: Factors a browser can answer (a code or a passkey); a certificate signs inside the
#: practice software.
BROWSER_FACTORS = tuple(
    kind for kind in factor_kinds.ORDER if factor_kinds.spec(kind).answer != "signature"
)


#: The factor a passkey assertion answers.
PASSKEY = next(kind for kind in factor_kinds.ORDER if factor_kinds.spec(kind).answer == "assertion")


def _answer(kind: object) -> str | None:
    """How a person answers ``kind`` (:class:`shared.factor_kinds.FactorSpec`), if it is one."""
    found = factor_kinds.KINDS.get(kind) if isinstance(kind, str) else None
    return found.answer if found else None


def _form_values(form: Any, *names: str) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in names}


def _keep(request: web.Request, client: TweestapClient, step: Step) -> web.StreamResponse:
    """Where the login goes after ``step``: done (the token into the session), else the next
    page; the login's state lives in the sealed session cookie only, and an enrolment token in
    the wizard of this login (:func:`wizard.bind`)."""
    session = request["session"]
    if step.next == "done":
        session.pop("login", None)
        session.pop("wizard", None)
        saved = client.saved or {}
        session["token"] = {k: v for k, v in saved.items() if k != "recovery_code"}
        token = step.body.get("token")
        if isinstance(token, dict) and token.get("recovery_code"):
            # A recovery login replaces the code: shown once on the next page, then dropped.
            session["recovery_code"] = str(token["recovery_code"])
        raise web.HTTPSeeOther(pending.after_login(session, time.time()))
    held = session.get("login") or {}
    session["login"] = {
        "id": step.login_id,
        "zone": step.zone,
        "next": step.next,
        "factors": step.factors,
        "factor": held.get("factor") if held.get("id") == step.login_id else None,
    }
    if step.enrolment_token and step.login_id:
        wizard.bind(session, step.login_id, step.enrolment_token)
    raise web.HTTPSeeOther("/login/step")


def _step(request: web.Request, client: TweestapClient) -> Step:
    login = request["session"].get("login")
    if not login or not login.get("id"):
        raise web.HTTPSeeOther("/login")
    body = {"login_id": login["id"], "next": login["next"], "factors": login["factors"]}
    return Step(client, body, int(login["zone"]))


def _interrupted(request: web.Request, error: Exception) -> web.Response:
    request["session"].pop("login", None)
    key = "login_expired" if isinstance(error, LoginInterrupted) else "zones_down"
    locale = request["session"]["locale"]
    return _form_page(request, i18n.text(locale, key), {})


def _form_page(
    request: web.Request, error: str | None, values: dict[str, str], status: int = 200
) -> web.Response:
    """The login form, with the other means this deployment has (Dezi: as auth last said)."""
    means = request.app[UPSTREAM_LOGINS].known()
    context = {"error": error, "values": values, "upstreams": means}
    return render(request, "login/form.html", context, status)


async def form(request: web.Request) -> web.StreamResponse:
    """The login form; for an application's request, filled in from its ``login_hint``."""
    waiting = pending.current(request["session"], time.time())
    values = pending.hinted(waiting.request) if waiting is not None else {}
    await upstreams.providers(request)
    return _form_page(request, None, values)


def _asked(waiting: dict[str, Any] | None) -> Level | None:
    """The level the application waiting for this login asks (ADR 0012), if above low."""
    level = (waiting or {}).get("level")
    return level if level in LEVELS and level != "low" else None


def _refused_status(error: TweestapError) -> int:
    if error.status >= 500:
        return 503
    return 429 if error.status == 429 else 400


async def submit(request: web.Request) -> web.StreamResponse:
    """A login starts a new session: the one before it (another person's, perhaps, at a shared
    workstation) ends at auth, and nothing of it — token, login, wizard — is carried over but
    the application's request this login form was shown for (its ``pending`` id), which the
    login then answers: with a second factor when the request asks for one (a step-up)."""
    posted = await request.post()
    values = _form_values(posted, "practice", "username", "password")
    now = time.time()
    waiting = pending.for_login(request["session"], str(posted.get("pending", "")), now)
    async with sdk(request) as client:
        if client.saved is not None:
            await client.logout()
        sessions.restart(request["session"], now, keep_csrf=True)
        if waiting is not None:
            request["session"][pending.KEY] = waiting
        try:
            step = await client.login(
                values["practice"],
                values["username"],
                values["password"],
                second_factor=bool(waiting and waiting.get("second_factor")),
                level=_asked(waiting),
            )
        except TweestapError as error:
            values.pop("password")
            response = _form_page(request, message(request, error), values, _refused_status(error))
            if error.status == 429 and error.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
            return response
        except ZonesUnavailable as error:
            return _interrupted(request, error)
        return _keep(request, client, step)


async def step_page(request: web.Request, error: str | None = None) -> web.StreamResponse:
    login = request["session"].get("login")
    if not login:
        raise web.HTTPSeeOther("/login")
    if login["next"] == "change_password":
        return render(request, "login/password.html", {"error": error}, 400 if error else 200)
    if login["next"] == "enrol":
        return render(request, "login/enrol.html", {})
    factor = login.get("factor")
    values = {"error": error, "login": login, "factor": factor}
    status = 400 if error else 200
    if _answer(factor) == "assertion":
        return render(request, "login/passkey.html", values, status)
    if _answer(factor) == "signature":
        return render(request, "login/certificate.html", values, status)
    if factor in BROWSER_FACTORS:
        return render(request, "login/code.html", values, status)
    return render(request, "login/choose.html", values, status)


async def _show(request: web.Request) -> web.StreamResponse:
    return await step_page(request)


async def change_password(request: web.Request) -> web.StreamResponse:
    new_password = str((await request.post()).get("new_password", ""))
    async with sdk(request) as client:
        try:
            step = await _step(request, client).change_password(new_password)
        except TweestapError as error:
            return await step_page(request, message(request, error))
        except ZonesUnavailable as error:
            return _interrupted(request, error)
        return _keep(request, client, step)


async def choose(request: web.Request) -> web.StreamResponse:
    factor = str((await request.post()).get("factor", ""))
    login = request["session"].get("login")
    if not login or factor not in login["factors"]:
        raise web.HTTPSeeOther("/login/step")
    login.pop("sent_to", None)
    login.pop("options", None)
    if factor in BROWSER_FACTORS and factor_kinds.spec(factor).challenge:
        async with sdk(request) as client:
            try:
                answer = await _step(request, client).challenge(factor)
            except TweestapError as error:
                return await step_page(request, message(request, error))
            except ZonesUnavailable as error:
                return _interrupted(request, error)
        if answer.body.get("sent_to"):
            login["sent_to"] = str(answer.body["sent_to"])
        if _answer(factor) == "assertion":
            login["options"] = answer.body.get("options")
    login["factor"] = factor
    raise web.HTTPSeeOther("/login/step")


async def other_factor(request: web.Request) -> web.StreamResponse:
    login = request["session"].get("login")
    if login:
        login["factor"] = None
    raise web.HTTPSeeOther("/login/step")


async def verify(request: web.Request) -> web.StreamResponse:
    code = str((await request.post()).get("code", "")).strip()
    login = request["session"].get("login") or {}
    factor = login.get("factor")
    if _answer(factor) != "code":
        raise web.HTTPSeeOther("/login/step")
    async with sdk(request) as client:
        try:
            step = await _step(request, client).verify(str(factor), code=code)
        except TweestapError as error:
            return await step_page(request, message(request, error))
        except ZonesUnavailable as error:
            return _interrupted(request, error)
        return _keep(request, client, step)


async def passkey_options(request: web.Request) -> web.StreamResponse:
    login = request["session"].get("login") or {}
    return web.json_response({"options": login.get("options")})


async def passkey_verify(request: web.Request) -> web.StreamResponse:
    """The browser's assertion (JSON, CSRF in the header) → {"next": url} or {"error": text}."""
    try:
        body = await bodies.read(request, bodies.PasskeyAssertion)
    except bodies.Refused as refused:
        return refused.response
    async with sdk(request) as client:
        try:
            step = await _step(request, client).verify(PASSKEY, credential=body.credential)
        except TweestapError as error:
            return web.json_response({"error": message(request, error)}, status=400)
        except ZonesUnavailable as error:
            request["session"].pop("login", None)
            locale = request["session"]["locale"]
            key = "login_expired" if isinstance(error, LoginInterrupted) else "zones_down"
            return web.json_response({"error": i18n.text(locale, key)}, status=503)
        try:
            _keep(request, client, step)
        except web.HTTPSeeOther as going:
            return web.json_response({"next": going.location})
    return web.json_response({"next": "/login/step"})


async def logout(request: web.Request) -> web.StreamResponse:
    async with sdk(request) as client:
        if client.saved is not None:
            await client.logout()
    # A fresh session (new CSRF secret, nothing of the old one) that keeps the language.
    sessions.restart(request["session"], time.time())
    raise web.HTTPSeeOther("/login")


ROUTES = [
    WebRoute("GET", "/login", form),
    WebRoute("POST", "/login", submit),
    WebRoute("GET", "/login/step", _show),
    WebRoute("POST", "/login/password", change_password),
    WebRoute("POST", "/login/factor", choose),
    WebRoute("POST", "/login/other", other_factor),
    WebRoute("POST", "/login/verify", verify),
    WebRoute("GET", "/login/passkey/options", passkey_options),
    WebRoute("POST", "/login/passkey", passkey_verify),
    WebRoute("POST", "/logout", logout),
]
