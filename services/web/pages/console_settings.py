"""The console's practice settings: name, e-mail, password policy with a strength preview,
the two-factor switch with the readiness list and "continue anyway", the lowest assurance
level of a login, the practice's and each rights group's (ADR 0012), and the practice's URA
(what a Dezi or UZI-pas login must act for; ADR 0014)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.web.claims import token_claims
from services.web.console import forms, views
from services.web.console.admin import Admin, admin_page, call, form_page, problem
from services.web.context import WebRoute, render
from shared.assurance import LEVELS
from shared.password_strength import strength
from shared.tokens import SINGLE_FACTOR_AAL, aal_of


async def _current(request: web.Request, admin: Admin) -> tuple[dict[str, Any], dict[str, Any]]:
    practice = await call(request, "enrolment", "GET", admin.path())
    readiness = await call(request, "enrolment", "GET", admin.path("readiness"))
    return dict(practice.body or {}), dict(readiness.body or {})


def _values(practice: dict[str, Any]) -> dict[str, str]:
    """The form's values from the stored settings."""
    policy = practice.get("password_policy") or {}
    values = {name: str(policy.get(name, "")) for name in forms.POLICY_FIELDS}
    for name, (target, factor) in forms.SCALED.items():
        if target in policy:  # shown whole, rounded up: never shorter than in force
            values[name] = str(-(-int(policy[target]) // factor))
    values["name"] = str(practice.get("name") or "")
    values["email"] = str(practice.get("email") or "")
    values["ura"] = str(practice.get("ura") or "")
    values["two_factor_required"] = "on" if practice.get("two_factor_required") else ""
    levels = practice.get("assurance") or {}
    for key in forms.ASSURANCE_KEYS:
        values[f"assurance_{key}"] = str(levels.get(key, "low"))
    return values


def _page(
    request: web.Request,
    values: dict[str, str],
    readiness: dict[str, Any],
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    return form_page(
        request,
        "console/settings.html",
        "settings",
        errors,
        **{
            "values": values,
            "readiness": readiness,
            "policy_fields": forms.POLICY_FIELDS,
            "assurance_keys": forms.ASSURANCE_KEYS,
            "levels": LEVELS,
            "incomplete": [],
            "saved": request.query.get("saved") == "1",
            "preview": None,
            "myself": False,
            # What is in force now, whatever the form says (a refused switch stays off).
            "current_two_factor": bool(readiness.get("two_factor_required")),
            **extra,
        },
    )


async def show(request: web.Request, admin: Admin) -> web.StreamResponse:
    practice, readiness = await _current(request, admin)
    return _page(request, _values(practice), readiness)


async def submit(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await request.post()
    posted = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    values = {k: v.strip() for k, v in posted.items() if k not in ("csrf", "try_password")}
    action = posted.get("action", "save")
    # Enter in a field submits with the form's first button (the preview): without a password
    # to score, that is a save.
    if action == "preview" and posted.get("try_password"):
        return await _preview(request, admin, values, posted.get("try_password", ""))
    if action == "confirm":
        values["confirm_incomplete"] = "on"
    parsed = forms.practice_body(values)
    values.pop("confirm_incomplete", None)
    if not parsed.ok:
        _, readiness = await _current(request, admin)
        return _page(request, values, readiness, parsed.errors)
    answer = await call(request, "enrolment", "PUT", admin.path(), parsed.body)
    if answer.status == 200:
        return _saved(request, dict(answer.body))
    refused = problem(answer)
    _, readiness = await _current(request, admin)
    incomplete = (
        refused.problem.get("employees") or [] if refused.slug == "employees-incomplete" else []
    )
    listed = views.incomplete({"employees": [{**e, "in_service": True} for e in incomplete]})
    return _page(
        request,
        values,
        readiness,
        forms.problem_errors(refused.slug, refused.problem),
        incomplete=listed,
        # The administrator switching it on would be locked out too: said in so many words.
        myself=any(e.get("employee") == admin.employee for e in listed),
    )


def _saved(request: web.Request, practice: dict[str, Any]) -> web.StreamResponse:
    """Back to the settings, unless two factors are now required and this session is a
    password-only one: the services end it (shared.gate), so the page says so and why."""
    claims = token_claims(request["session"].get("token")) or {}
    if practice.get("two_factor_required") and aal_of(claims) == SINGLE_FACTOR_AAL:
        request["session"].pop("token", None)
        return render(request, "console/switched.html", {"error": None})
    raise web.HTTPSeeOther("/console/settings?saved=1")


async def _preview(
    request: web.Request, admin: Admin, values: dict[str, str], password: str
) -> web.Response:
    """The chosen minimum against a password scored with the rule auth enforces (the
    practice's name as user input); nothing is saved and the password is not echoed."""
    _, readiness = await _current(request, admin)
    parsed = forms.practice_body(values)
    minimum = int(parsed.body["password_policy"].get("min_strength", 0))
    score = strength(password, [values.get("name", "")])
    preview = {"score": score, "minimum": minimum, "ok": score >= minimum}
    return _page(request, values, readiness, preview=preview)


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/console/settings")


ROUTES = [
    WebRoute("GET", "/console/settings", admin_page(show)),
    WebRoute("POST", "/console/settings", admin_page(submit)),
]
