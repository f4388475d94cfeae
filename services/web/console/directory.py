"""The practice's employees as the console's pages read them (enrolment's directory)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.web.console.admin import Admin, call


async def employees_of(request: web.Request, admin: Admin) -> list[dict[str, Any]]:
    answer = await call(request, "enrolment", "GET", admin.path("employees"))
    return list(answer.body or [])


async def one_employee(request: web.Request, admin: Admin) -> dict[str, Any]:
    """The employee the path names (``{e}``); 404 otherwise."""
    wanted = request.match_info["e"]
    for employee in await employees_of(request, admin):
        if employee.get("employee") == wanted:
            return employee
    raise web.HTTPNotFound()
