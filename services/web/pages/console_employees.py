"""The console's employees: the list with missing data flagged, editing one, and deactivating
an employee's second factor behind a confirmation page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.web import dates
from services.web.console import forms, views
from services.web.console.admin import (
    Admin,
    admin_page,
    call,
    form_page,
    problem,
    refusal_text,
)
from services.web.console.directory import employees_of, one_employee
from services.web.context import WebRoute, render
from services.web.pages import console_accounts


async def listing(request: web.Request, admin: Admin) -> web.StreamResponse:
    employees = await employees_of(request, admin)
    readiness = await call(request, "enrolment", "GET", admin.path("readiness"))
    status = request.query.get("status", "")
    if status not in views.STATUS_FILTERS:
        status = ""
    accounts = await console_accounts.accounts_of(request, admin)
    rows = views.employee_rows(employees, readiness.body, accounts, status)
    done = request.query.get("deactivated", "")
    names = {str(e["employee"]): str(e["name"]) for e in employees}
    return render(
        request,
        "console/employees.html",
        {
            "rows": rows,
            "error": None,
            "section": "employees",
            "saved": request.query.get("saved") == "1",
            "deactivated": names.get(done),
            "status": status,
            "statuses": views.STATUS_FILTERS,
        },
    )


def _values(employee: dict[str, Any]) -> dict[str, str]:
    values = {
        name: "" if employee.get(name) is None else str(employee[name])
        for name in (
            "username",
            "name",
            "birth_date",
            "email",
            "phone",
            "rights_group",
            "dezi_number",
        )
    }
    values["in_service"] = "on" if employee.get("in_service") else ""
    parts = dates.to_parts(values["birth_date"])
    values.update({f"birth_date_{part}": text for part, text in parts.items()})
    return values


def _edit_page(
    request: web.Request,
    employee: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    account: dict[str, Any] | None = None,
    factors: list[dict[str, Any]] | None = None,
) -> web.Response:
    return form_page(
        request,
        "console/employee.html",
        "employees",
        errors,
        employee=employee,
        values=values,
        account=account,
        factors=factors or [],
    )


async def edit(request: web.Request, admin: Admin) -> web.StreamResponse:
    """The employee's data to edit, and their account's state with its tasks (auth's)."""
    employee = await one_employee(request, admin)
    account = await console_accounts.account_of(request, admin, employee["employee"])
    factors = await console_accounts.factors_of(request, admin, employee["employee"])
    return _edit_page(request, employee, _values(employee), account=account, factors=factors)


async def save(request: web.Request, admin: Admin) -> web.StreamResponse:
    employee = await one_employee(request, admin)
    form = await request.post()
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    values["birth_date"] = dates.from_parts(values, "birth_date")
    parsed = forms.employee_body(values)
    values.pop("bsn", None)  # never shown back
    if not parsed.ok:
        return _edit_page(request, employee, values, parsed.errors)
    path = admin.path("employees", employee["employee"])
    answer = await call(request, "enrolment", "PUT", path, parsed.body)
    if answer.status == 200:
        raise web.HTTPSeeOther("/console/employees?saved=1")
    refused = problem(answer)
    return _edit_page(
        request, employee, values, forms.problem_errors(refused.slug, refused.problem)
    )


async def confirm_deactivation(request: web.Request, admin: Admin) -> web.StreamResponse:
    employee = await one_employee(request, admin)
    return render(
        request,
        "console/deactivate.html",
        {"employee": employee, "error": None, "section": "employees"},
    )


async def deactivate(request: web.Request, admin: Admin) -> web.StreamResponse:
    employee = await one_employee(request, admin)
    path = admin.path("employees", employee["employee"], "factors")
    answer = await call(request, "enrolment", "DELETE", path)
    if answer.status >= 400:
        return render(
            request,
            "console/deactivate.html",
            {
                "employee": employee,
                "error": refusal_text(request, answer),
                "section": "employees",
            },
            status=400,
        )
    raise web.HTTPSeeOther(f"/console/employees?deactivated={employee['employee']}")


ROUTES = [
    WebRoute("GET", "/console/employees", admin_page(listing)),
    WebRoute("GET", "/console/employees/{e}", admin_page(edit)),
    WebRoute("POST", "/console/employees/{e}", admin_page(save)),
    WebRoute("GET", "/console/employees/{e}/deactivate", admin_page(confirm_deactivation)),
    WebRoute("POST", "/console/employees/{e}/deactivate", admin_page(deactivate)),
]
