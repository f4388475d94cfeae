"""The console's account tasks for one employee (issue 25): the account's state on the
employee's page, and unlocking it, ending every session and resetting the password, each
behind a confirmation page (auth does the work, in both zones, audited)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.web.console.admin import Admin, admin_page, call, problem
from services.web.console.directory import one_employee
from services.web.context import WebRoute, render


@dataclass(frozen=True)
class Task:
    """One account task: its page's name (``/console/employees/{e}/<name>``) and how auth is
    asked to do it."""

    name: str
    method: str
    path: tuple[str, ...]

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
    )
}


def temporary_password() -> str:
    """Four groups of four letters and digits without look-alikes (0/O, 1/l/I): read aloud
    or typed from paper; 80 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


async def account_of(request: web.Request, admin: Admin, employee: str) -> dict[str, Any] | None:
    """The employee's account at auth (status, failures, locked until, last login)."""
    answer = await call(request, "auth", "GET", admin.path("accounts"))
    for account in (answer.body or {}).get("accounts", []) if answer.status == 200 else []:
        if account.get("employee") == employee:
            return dict(account)
    return None


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
    answer = await call(request, "auth", task.method, path, body)
    if answer.status >= 400:
        refused = problem(answer)
        detail = str(refused.problem.get("detail") or refused.slug)
        return _page(request, task, employee, detail, status=400)
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
    WebRoute("GET", "/console/employees/{e}/account/{task}", admin_page(confirm)),
    WebRoute("POST", "/console/employees/{e}/account/{task}", admin_page(perform)),
]
