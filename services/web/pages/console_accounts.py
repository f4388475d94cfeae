"""The console's account tasks for one employee (issue 25): the account's state on the
employee's page, and unlocking it, ending every session and resetting the password (auth
does the work, in both zones, audited); their sign-in methods, and removing one (enrolment
does). Each behind a confirmation page."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.web.console.admin import Admin, admin_page, call, refusal_text
from services.web.console.directory import one_employee
from services.web.context import WebRoute, render


@dataclass(frozen=True)
class Task:
    """One account task: its page's name (``/console/employees/{e}/<name>``) and how auth is
    asked to do it."""

    name: str
    method: str
    path: tuple[str, ...]
    #: The service that does it.
    service: str = "auth"

    def body(self) -> dict[str, Any] | None:
        return None


@dataclass(frozen=True)
class PasswordReset(Task):
    """A temporary password the employee replaces at their next login (it need not meet the
    policy, auth says): made here, shown once to the administrator to hand over."""

    def body(self) -> dict[str, Any]:
        return {"password": temporary_password(), "temporary": True}


TASKS = {
    task.name: task
    for task in (
        Task("unlock", "POST", ("unlock",)),
        Task("sessions", "POST", ("sessions", "end")),
        PasswordReset("password", "PUT", ("password",)),
        Task("activation", "POST", ("activation",), "enrolment"),
    )
}


def temporary_password() -> str:
    """Four groups of four letters and digits without look-alikes (0/O, 1/l/I): read aloud
    or typed from paper; 80 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


async def accounts_of(request: web.Request, admin: Admin) -> dict[str, dict[str, Any]]:
    """Every employee's account at auth (status, failures, locked until, last login) by id;
    empty when auth does not answer (the pages show what enrolment knows)."""
    answer = await call(request, "auth", "GET", admin.path("accounts"))
    listed = (answer.body or {}).get("accounts", []) if answer.status == 200 else []
    return {str(account["employee"]): dict(account) for account in listed}


async def account_of(request: web.Request, admin: Admin, employee: str) -> dict[str, Any] | None:
    """The employee's account at auth."""
    return (await accounts_of(request, admin)).get(employee)


async def factors_of(request: web.Request, admin: Admin, employee: str) -> list[dict[str, Any]]:
    """The employee's active sign-in methods (enrolment's)."""
    answer = await call(request, "enrolment", "GET", admin.path("employees", employee, "factors"))
    return list(answer.body or []) if answer.status == 200 else []


async def _factor(request: web.Request, admin: Admin, employee: str) -> dict[str, Any]:
    wanted = request.match_info["f"]
    for factor in await factors_of(request, admin, employee):
        if factor.get("factor_id") == wanted:
            return factor
    raise web.HTTPNotFound()


async def confirm_removal(request: web.Request, admin: Admin) -> web.StreamResponse:
    employee = await one_employee(request, admin)
    factor = await _factor(request, admin, employee["employee"])
    return _removal_page(request, employee, factor, None)


async def remove(request: web.Request, admin: Admin) -> web.StreamResponse:
    """One sign-in method removed (enrolment); the others stay."""
    employee = await one_employee(request, admin)
    factor = await _factor(request, admin, employee["employee"])
    path = admin.path("employees", employee["employee"], "factors", factor["factor_id"])
    answer = await call(request, "enrolment", "DELETE", path)
    if answer.status >= 400:
        return _removal_page(request, employee, factor, refusal_text(request, answer), status=400)
    return render(
        request,
        "console/account_done.html",
        {
            "employee": employee,
            "done": {"task": "remove", "kind": factor["kind"]},
            "error": None,
            "section": "employees",
        },
    )


def _removal_page(
    request: web.Request,
    employee: dict[str, Any],
    factor: dict[str, Any],
    error: str | None,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "console/factor_remove.html",
        {"employee": employee, "factor": factor, "error": error, "section": "employees"},
        status=status,
    )


def _task(request: web.Request) -> Task:
    task = TASKS.get(request.match_info["task"])
    if task is None:
        raise web.HTTPNotFound()
    return task


async def confirm(request: web.Request, admin: Admin) -> web.StreamResponse:
    task = _task(request)
    employee = await one_employee(request, admin)
    return _page(request, task, employee, None)


async def perform(request: web.Request, admin: Admin) -> web.StreamResponse:
    task = _task(request)
    employee = await one_employee(request, admin)
    body = task.body()
    path = admin.path("employees", employee["employee"], *task.path)
    answer = await call(request, task.service, task.method, path, body)
    if answer.status >= 400:
        return _page(request, task, employee, refusal_text(request, answer), status=400)
    done: dict[str, Any] = {"task": task.name}
    if body is not None:
        done["password"] = body["password"]  # shown once, on this answer only
    return render(
        request,
        "console/account_done.html",
        {"employee": employee, "done": done, "error": None, "section": "employees"},
    )


def _page(
    request: web.Request, task: Task, employee: dict[str, Any], error: str | None, status: int = 200
) -> web.Response:
    return render(
        request,
        "console/account_task.html",
        {"employee": employee, "task": task.name, "error": error, "section": "employees"},
        status=status,
    )


ROUTES = [
    WebRoute("GET", "/console/employees/{e}/factors/{f}/remove", admin_page(confirm_removal)),
    WebRoute("POST", "/console/employees/{e}/factors/{f}/remove", admin_page(remove)),
    WebRoute("GET", "/console/employees/{e}/account/{task}", admin_page(confirm)),
    WebRoute("POST", "/console/employees/{e}/account/{task}", admin_page(perform)),
]
