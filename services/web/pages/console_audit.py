"""The console's audit trail: filters (from, to, employee, type), cursor paging and the
JSON-lines export, fetched by the web with the session's token. The enrolment service answers
only a two-factor session (NEN 7513); a password-only one gets a page that says so, not the
"administrators only" page."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web
from tweestap_client import NotLoggedIn, Response

from services.web import i18n
from services.web.console import forms, views
from services.web.console.admin import Admin, Page, admin_page, call, form_page, problem
from services.web.context import WebRoute, render, sdk
from shared.audit_actions import AUDIT_ACTIONS

PAGE = "/console/audit"
#: The enrolment service's refusal of a password-only session.
TWO_FACTOR_REQUIRED = "two-factor-required"


class _TwoFactorRequired(Exception):
    """The session logged in with a password only."""


async def _read(request: web.Request, path: str) -> Response:
    """:func:`call` for the audit trail, telling the refusal of a password-only session
    apart from a refusal for lack of rights."""
    async with sdk(request) as client:
        answer = await client.request("enrolment", "GET", path)
    if answer.status == 403 and problem(answer).slug == TWO_FACTOR_REQUIRED:
        raise _TwoFactorRequired
    if answer.status == 401:
        raise NotLoggedIn()
    if answer.status == 403:
        raise web.HTTPForbidden()
    return answer


def _two_factor_told(page: Page) -> Page:
    """``page``, or (403) why a password-only session may not read the audit trail."""

    async def handler(request: web.Request, admin: Admin) -> web.StreamResponse:
        try:
            return await page(request, admin)
        except _TwoFactorRequired:
            locale = request["session"].get("locale", "nl")
            message = i18n.text(locale, "audit_two_factor_required")
            return render(request, "forbidden.html", {"message": message}, status=403)

    return handler


async def show(request: web.Request, admin: Admin) -> web.StreamResponse:
    values = {k: v for k, v in request.query.items() if k in ("from", "to", "employee", "type")}
    parsed = forms.audit_query({**values, "cursor": request.query.get("cursor", "")})
    errors = dict(parsed.errors)
    employees = await call(request, "enrolment", "GET", admin.path("employees"))
    names = {str(e["employee"]): str(e["name"]) for e in employees.body or []}
    events: list[dict[str, str]] = []
    following = None
    if parsed.ok:
        path = admin.path("audit") + "?" + urlencode(parsed.body)
        answer = await _read(request, path)
        if answer.status == 200:
            events = [views.audit_row(e, names) for e in answer.body.get("events", [])]
            following = answer.body.get("next")
        else:
            refused = problem(answer)
            name = str(refused.problem.get("parameter") or "form")
            errors[name] = f"console.problem.{refused.slug}"
    filters = {k: v for k, v in values.items() if v}
    export = views.audit_link(PAGE + "/export", filters)
    return form_page(
        request,
        "console/audit.html",
        "audit",
        errors,
        values=values,
        events=events,
        actions=AUDIT_ACTIONS,
        employees=employees.body or [],
        next_link=views.audit_link(PAGE, filters, cursor=following) if following else None,
        first_link=views.audit_link(PAGE, filters) if request.query.get("cursor") else None,
        export_link=export,
    )


async def export(request: web.Request, admin: Admin) -> web.StreamResponse:
    """The service's JSON lines for the same filters, as a download (held in memory: the SDK
    answers whole bodies)."""
    values = {k: v for k, v in request.query.items() if k in ("from", "to", "employee", "type")}
    parsed = forms.audit_query(values)
    if not parsed.ok:
        raise web.HTTPBadRequest(text="invalid filter")
    path = admin.path("audit", "export") + "?" + urlencode(parsed.body)
    answer = await _read(request, path)
    if answer.status != 200:
        raise web.HTTPBadRequest(text=str(problem(answer).slug))
    # One line of JSON is parsed by the SDK like any answer: written back as that line.
    body = answer.body if isinstance(answer.body, str) else ""
    if isinstance(answer.body, (dict, list)):
        body = json.dumps(answer.body) + "\n"
    return web.Response(
        text=body,
        content_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )


ROUTES = [
    WebRoute("GET", PAGE, admin_page(_two_factor_told(show))),
    WebRoute("GET", PAGE + "/export", admin_page(_two_factor_told(export))),
]
