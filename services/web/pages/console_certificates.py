"""The console's certificates: the list, a PKCS#12 import (uploaded in the form, posted to
certs as JSON), details with the serial in hex pairs, type, AGB code, online services, grants
per employee, and removal behind a confirmation page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.web.console import forms, views
from services.web.console.admin import Admin, admin_page, call, form_page, problem
from services.web.console.when import local_time
from services.web.context import WebRoute, render

LIST = "/console/certificates"


def _shown(certificate: dict[str, Any]) -> dict[str, Any]:
    return {
        **certificate,
        "serial_pairs": views.serial_pairs(str(certificate["serial_number"])),
        "holder": views.holder(certificate),
        "valid_from": local_time(certificate.get("not_before")),
        "valid_until": local_time(certificate.get("not_after")),
    }


async def _listing_page(
    request: web.Request, admin: Admin, errors: dict[str, str] | None = None
) -> web.Response:
    answer = await call(request, "certs", "GET", admin.path("certificates"))
    certificates = [_shown(c) for c in (answer.body or {}).get("certificates", [])]
    return form_page(
        request,
        "console/certificates.html",
        "certificates",
        errors,
        certificates=certificates,
        values={},
        removed=request.query.get("removed") == "1",
    )


async def listing(request: web.Request, admin: Admin) -> web.StreamResponse:
    return await _listing_page(request, admin)


async def import_pkcs12(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("pkcs12")
    data = upload.file.read() if isinstance(upload, web.FileField) else b""
    parsed = forms.certificate_import_body(data, str(form.get("password", "")))
    if not parsed.ok:
        return await _listing_page(request, admin, parsed.errors)
    answer = await call(request, "certs", "POST", admin.path("certificates"), parsed.body)
    if answer.status in (200, 201):
        raise web.HTTPSeeOther(f"{LIST}/{answer.body['nr']}?saved=1")
    refused = problem(answer)
    return await _listing_page(request, admin, forms.problem_errors(refused.slug, refused.problem))


async def _details_page(
    request: web.Request,
    admin: Admin,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    nr = request.match_info["nr"]
    answer = await call(request, "certs", "GET", admin.path("certificates", nr))
    if answer.status == 404:
        raise web.HTTPNotFound()
    certificate = _shown(dict(answer.body))
    employees = await call(request, "enrolment", "GET", admin.path("employees"))
    people = {e["employee"]: e for e in (employees.body or [])}
    if values is None:
        values = {
            "type": certificate["type"],
            "agb_code": certificate.get("agb_code") or "",
            "services": "\n".join(certificate.get("services") or []),
        }
    return form_page(
        request,
        "console/certificate.html",
        "certificates",
        errors,
        certificate=certificate,
        grants=[people.get(g, {"employee": g, "name": g}) for g in certificate["grants"]],
        grantable=[e for e in people.values() if e["employee"] not in certificate["grants"]],
        values=values,
        saved=request.query.get("saved") == "1",
    )


async def details(request: web.Request, admin: Admin) -> web.StreamResponse:
    return await _details_page(request, admin)


async def update(request: web.Request, admin: Admin) -> web.StreamResponse:
    nr = request.match_info["nr"]
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    parsed = forms.certificate_patch_body(values)
    if parsed.ok:
        path = admin.path("certificates", nr)
        answer = await call(request, "certs", "PATCH", path, parsed.body)
        if answer.status == 200:
            raise web.HTTPSeeOther(f"{LIST}/{nr}?saved=1")
        refused = problem(answer)
        parsed.errors = forms.problem_errors(refused.slug, refused.problem)
    return await _details_page(request, admin, parsed.errors, values)


async def grant(request: web.Request, admin: Admin) -> web.StreamResponse:
    """``action=grant`` lets ``employee`` use the certificate, ``action=revoke`` withdraws it."""
    nr = request.match_info["nr"]
    form = await request.post()
    employee = str(form.get("employee", ""))
    method = "DELETE" if form.get("action") == "revoke" else "PUT"
    if not employee:
        return await _details_page(request, admin, {"employee": "console.error.choice"})
    path = admin.path("certificates", nr, "grants", employee)
    answer = await call(request, "certs", method, path)
    if answer.status >= 400:
        refused = problem(answer)
        return await _details_page(
            request, admin, forms.problem_errors(refused.slug, refused.problem)
        )
    raise web.HTTPSeeOther(f"{LIST}/{nr}?saved=1")


async def confirm_removal(request: web.Request, admin: Admin) -> web.StreamResponse:
    nr = request.match_info["nr"]
    answer = await call(request, "certs", "GET", admin.path("certificates", nr))
    if answer.status == 404:
        raise web.HTTPNotFound()
    context = {"certificate": _shown(dict(answer.body)), "error": None, "section": "certificates"}
    return render(request, "console/remove.html", context)


async def remove(request: web.Request, admin: Admin) -> web.StreamResponse:
    nr = request.match_info["nr"]
    answer = await call(request, "certs", "DELETE", admin.path("certificates", nr))
    if answer.status >= 400 and answer.status != 404:
        refused = problem(answer)
        return await _details_page(
            request, admin, forms.problem_errors(refused.slug, refused.problem)
        )
    raise web.HTTPSeeOther(f"{LIST}?removed=1")


ROUTES = [
    WebRoute("GET", LIST, admin_page(listing)),
    WebRoute("POST", LIST, admin_page(import_pkcs12)),
    WebRoute("GET", LIST + "/{nr}", admin_page(details)),
    WebRoute("POST", LIST + "/{nr}", admin_page(update)),
    WebRoute("POST", LIST + "/{nr}/grants", admin_page(grant)),
    WebRoute("GET", LIST + "/{nr}/remove", admin_page(confirm_removal)),
    WebRoute("POST", LIST + "/{nr}/remove", admin_page(remove)),
]
