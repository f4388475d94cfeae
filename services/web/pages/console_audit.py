"""The console's audit trail: filters (from, to, employee, type), cursor paging and the
JSON-lines export, fetched by the web with the session's token. The enrolment service answers
only a two-factor session (NEN 7513); a password-only one gets a page that says so, not the
"administrators only" page."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from tweestap_client import NotLoggedIn, Response

from services.web import i18n
from services.web.console import forms, views
from services.web.console.admin import Admin, Page, admin_page, call, form_page, problem
from services.web.console.audit_texts import action_name
from services.web.context import WebRoute, render, sdk
from shared.audit_actions import AUDIT_ACTIONS

PAGE = "/console/audit"
#: The CSV export's columns, their headings the console's texts ``console.<column>``.
#: What an audit record's ``object`` can be (enrolment's ``ObjectType``).
OBJECT_TYPES = ("employee", "certificate", "practice")
CSV_COLUMNS = ("time", "action", "outcome", "actor", "rights_group", "address", "object", "source")
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
            values = {"message": message, "what": i18n.text(locale, "console.audit")}
            return render(request, "forbidden.html", values, status=403)

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
            locale = request["session"].get("locale", "nl")
            events = [
                {**row, "action_name": action_name(locale, row["action"])}
                for row in (
                    views.audit_row(e, names, object_types(locale))
                    for e in answer.body.get("events", [])
                )
            ]
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
        csv_link=views.audit_link(PAGE + "/export.csv", filters),
    )


def object_types(locale: str) -> dict[str, str]:
    """The audit records' object types in ``locale`` (the audit trail keeps them in English)."""
    return {kind: i18n.text(locale, f"console.object.{kind}") for kind in OBJECT_TYPES}


async def _exported(request: web.Request, admin: Admin) -> list[dict[str, Any]]:
    """The service's export (JSON lines) for the page's filters, as records (held in memory:
    the SDK answers whole bodies)."""
    values = {k: v for k, v in request.query.items() if k in ("from", "to", "employee", "type")}
    parsed = forms.audit_query(values)
    if not parsed.ok:
        raise web.HTTPBadRequest(text="invalid filter")
    path = admin.path("audit", "export") + "?" + urlencode(parsed.body)
    answer = await _read(request, path)
    if answer.status != 200:
        raise web.HTTPBadRequest(text=str(problem(answer).slug))
    # One line of JSON is parsed by the SDK like any answer; more come as text.
    if isinstance(answer.body, dict):
        return [answer.body]
    if isinstance(answer.body, list):
        return [e for e in answer.body if isinstance(e, dict)]
    text = answer.body if isinstance(answer.body, str) else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def export(request: web.Request, admin: Admin) -> web.StreamResponse:
    """The records as JSON lines, as the service keeps them (a download)."""
    records = await _exported(request, admin)
    return web.Response(
        text="".join(json.dumps(record) + "\n" for record in records),
        content_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )


async def export_csv(request: web.Request, admin: Admin) -> web.StreamResponse:
    """The records as a spreadsheet reads them: one row each, times in Europe/Amsterdam,
    actions and employees by name, in the session's language (a download)."""
    records = await _exported(request, admin)
    locale = request["session"].get("locale", "nl")
    employees = await call(request, "enrolment", "GET", admin.path("employees"))
    names = {str(e["employee"]): str(e["name"]) for e in employees.body or []}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")  # what Dutch spreadsheets open by default
    writer.writerow([i18n.text(locale, f"console.{c}") for c in CSV_COLUMNS])
    for record in records:
        row = views.audit_row(record, names, object_types(locale))
        writer.writerow(
            [
                row["time"],
                action_name(locale, row["action"]),
                i18n.text(locale, f"console.outcome.{row['outcome']}"),
                row["actor"],
                "" if row["rights_group"] is None else row["rights_group"],
                row["address"],
                row["object"],
                row["source"],
            ]
        )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


ROUTES = [
    WebRoute("GET", PAGE, admin_page(_two_factor_told(show))),
    WebRoute("GET", PAGE + "/export", admin_page(_two_factor_told(export))),
    WebRoute("GET", PAGE + "/export.csv", admin_page(_two_factor_told(export_csv))),
]
