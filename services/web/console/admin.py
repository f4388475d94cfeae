"""Who may see the console (a token of rights group 1; the services check the practice on
every call) and calls to the services for a console page.

The session's token is read unverified here, only to choose the page: every call the page then
makes carries the token, and enrolment and certs verify it and refuse anything but rights
group 1 of that practice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from tweestap_client import NotLoggedIn, Response, TweestapError, ZonesUnavailable

from services.web import i18n
from services.web.claims import token_claims
from services.web.console import forms
from services.web.console.texts import summary, t
from services.web.context import render, sdk

ADMIN_RIGHTS_GROUP = 1


@dataclass(frozen=True)
class Admin:
    """The administrator a console page acts for."""

    practice: str
    employee: str

    def path(self, *parts: str) -> str:
        """``/v1/practices/{p}/…`` with each part quoted (ids come from forms and URLs)."""
        tail = "".join("/" + quote(part, safe="") for part in parts)
        return f"/v1/practices/{quote(self.practice, safe='')}{tail}"


def admin_of(claims: Mapping[str, Any]) -> Admin | None:
    """The administrator in ``claims``, or None for anyone but rights group 1."""
    try:
        group = int(claims.get("rg", 0))
    except (TypeError, ValueError):
        return None
    practice, employee = claims.get("practice"), claims.get("sub")
    if group != ADMIN_RIGHTS_GROUP or not isinstance(practice, str) or not practice:
        return None
    return Admin(practice, str(employee or ""))


def form_page(
    request: web.Request,
    template: str,
    section: str,
    errors: dict[str, str] | None = None,
    **values: Any,
) -> web.Response:
    """A console page with a form: each field's error, the summary above the form, and 400
    when the services refused what was sent."""
    errors = errors or {}
    locale = request["session"].get("locale", "nl")
    context = {"errors": errors, "error": summary(locale, errors), "section": section, **values}
    return render(request, template, context, status=400 if errors else 200)


def forbidden(request: web.Request) -> web.Response:
    locale = request["session"].get("locale", "nl")
    values = {"message": t(locale, "console.forbidden"), "what": t(locale, "console")}
    return render(request, "forbidden.html", values, status=403)


Page = Callable[[web.Request, Admin], Awaitable[web.StreamResponse]]


def admin_page(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A console page: to the login without a session, a 403 page for anyone but an
    administrator, a clear page when no zone answers."""

    async def handler(request: web.Request) -> web.StreamResponse:
        claims = token_claims(request["session"].get("token"))
        if claims is None:
            raise web.HTTPSeeOther("/login")
        admin = admin_of(claims)
        if admin is None:
            return forbidden(request)
        try:
            return await page(request, admin)
        except web.HTTPForbidden:
            return forbidden(request)
        except NotLoggedIn:
            request["session"].pop("token", None)
            raise web.HTTPSeeOther("/login") from None
        except ZonesUnavailable:
            locale = request["session"].get("locale", "nl")
            message = i18n.text(locale, "zones_down")
            return render(request, "forbidden.html", {"message": message}, status=503)

    return handler


async def call(
    request: web.Request, service: str, method: str, path: str, body: Any = None
) -> Response:
    """One call with the session's token (renewed into the session when due); a refusal for
    lack of rights becomes the 403 page, an ended session the login."""
    async with sdk(request) as client:
        answer = await client.request(service, method, path, json=body)
    if answer.status == 401:
        raise NotLoggedIn()
    if answer.status == 403:
        raise web.HTTPForbidden()
    return answer


def problem(answer: Response) -> TweestapError:
    """A refused call's problem+json (``slug`` and fields) for :mod:`forms.problem_errors`."""
    body = answer.body if isinstance(answer.body, dict) else {}
    return TweestapError(answer.status, body)


def refusal_text(request: web.Request, answer: Response) -> str:
    """A refused call's message for a whole form, in the person's language: ours where we know
    the problem, else the service's own words."""
    refused = problem(answer)
    locale = request["session"].get("locale", "nl")
    key = forms.problem_errors(refused.slug, refused.problem).get("form", "")
    known = t(locale, key) if key else key
    if known and known != key:
        return known
    return str(refused.problem.get("detail") or refused.slug)
