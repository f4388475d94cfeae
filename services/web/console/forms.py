"""Posted form fields → the JSON bodies the enrolment and certs APIs take, and their
problem+json answers → messages tied to the form's fields. Pure: no I/O.

Ranges are checked by the services (one rule, theirs); here only what a form can get wrong
before a body exists: a number that is not a number, a date that is not a date. An error is
a message key of the console's texts (``console.error.*``), translated by the page."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from shared.assurance import LEVELS, MINIMUM
from shared.audit_actions import AUDIT_ACTIONS
from shared.care_identifiers import is_dezi_number, is_ura

#: The password policy's fields, in the order the settings page shows them.
POLICY_FIELDS = (
    "min_strength",
    "change_after_days",
    "warn_before_days",
    "disable_after_days",
    "max_attempts",
    "lockout_minutes",
    "history",
)
#: The keys of a practice's lowest assurance levels, in the order the settings page shows them:
#: the practice's minimum, then each rights group's (form fields ``assurance_<key>``).
ASSURANCE_KEYS = (MINIMUM, *(str(group) for group in range(1, 10)))
#: Policy fields the form asks in a person's unit: the form's name → (the policy's, its factor).
SCALED = {"lockout_minutes": ("lockout_seconds", 60)}
#: Fields of an employee as the edit form names them (the BSN is never shown, only replaced).
EMPLOYEE_FIELDS = (
    "username",
    "name",
    "birth_date",
    "email",
    "bsn",
    "phone",
    "rights_group",
    "in_service",
    "dezi_number",
)
CERTIFICATE_TYPES = ("personal", "public")


@dataclass
class Parsed:
    """A body for the API, or the fields' errors (message keys) that stop it being sent."""

    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _checked(form: Mapping[str, str], name: str) -> bool:
    return form.get(name, "") in ("on", "true", "1", "yes")


def _integer(form: Mapping[str, str], name: str, parsed: Parsed) -> int | None:
    raw = _text(form, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        parsed.errors[name] = "console.error.number"
        return None


def practice_body(form: Mapping[str, str]) -> Parsed:
    """``PUT /v1/practices/{p}``: name, e-mail (empty removes it), the two-factor switch,
    ``confirm_incomplete`` (the "continue anyway" step), the password policy, the lowest
    assurance levels (``assurance_minimum``, ``assurance_1``…``assurance_9``; ADR 0012) and
    the URA when the form has it (eight digits; empty removes it)."""
    parsed = Parsed()
    name = _text(form, "name")
    if not name:
        parsed.errors["name"] = "console.error.required"
    parsed.body["name"] = name
    parsed.body["email"] = _text(form, "email") or None
    parsed.body["two_factor_required"] = _checked(form, "two_factor_required")
    parsed.body["confirm_incomplete"] = _checked(form, "confirm_incomplete")
    policy: dict[str, int] = {}
    for name in POLICY_FIELDS:
        value = _integer(form, name, parsed)
        if value is not None:
            target, factor = SCALED.get(name, (name, 1))
            policy[target] = value * factor
    parsed.body["password_policy"] = policy
    assurance = {k: form[f"assurance_{k}"] for k in ASSURANCE_KEYS if f"assurance_{k}" in form}
    for key, level in assurance.items():
        if level not in LEVELS:
            parsed.errors[f"assurance_{key}"] = "console.error.level"
    if assurance:
        parsed.body["assurance"] = assurance
    _identifier(form, "ura", is_ura, "console.error.ura", parsed)
    return parsed


def _identifier(
    form: Mapping[str, str], name: str, valid: Callable[[str], bool], error: str, parsed: Parsed
) -> None:
    """A care identifier (digits; spaces dropped) when the form has its field: empty removes
    it (``null``), a value that is not one is the field's error."""
    if name not in form:
        return
    raw = _text(form, name).replace(" ", "")
    if raw and not valid(raw):
        parsed.errors[name] = error
    parsed.body[name] = raw or None


def _date(form: Mapping[str, str], name: str, parsed: Parsed) -> str | None:
    raw = _text(form, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        parsed.errors[name] = "console.error.date"
        return None


def employee_body(form: Mapping[str, str]) -> Parsed:
    """``PUT /v1/practices/{p}/employees/{e}``: an empty e-mail, phone, birth date or Dezi
    number removes it (the Dezi number only when the form has its field); an empty BSN keeps
    the stored one (it is never shown, so never sent back)."""
    parsed = Parsed()
    for name in ("username", "name"):
        parsed.body[name] = _text(form, name)
        if not parsed.body[name]:
            parsed.errors[name] = "console.error.required"
    parsed.body["birth_date"] = _date(form, "birth_date", parsed)
    parsed.body["email"] = _text(form, "email") or None
    parsed.body["phone"] = _text(form, "phone") or None
    if bsn := _text(form, "bsn"):
        parsed.body["bsn"] = bsn
    group = _integer(form, "rights_group", parsed)
    if group is not None:
        parsed.body["rights_group"] = group
    parsed.body["in_service"] = _checked(form, "in_service")
    _identifier(form, "dezi_number", is_dezi_number, "console.error.dezi_number", parsed)
    return parsed


def certificate_import_body(pkcs12: bytes, password: str) -> Parsed:
    """``POST /v1/practices/{p}/certificates`` from an uploaded PKCS#12 file."""
    parsed = Parsed()
    if not pkcs12:
        parsed.errors["pkcs12"] = "console.error.file"
    parsed.body = {"pkcs12": base64.b64encode(pkcs12).decode(), "password": password}
    return parsed


def certificate_patch_body(form: Mapping[str, str]) -> Parsed:
    """``PATCH /v1/practices/{p}/certificates/{nr}``: type, AGB code (empty clears it) and the
    online services, one per line."""
    parsed = Parsed()
    kind = _text(form, "type")
    if kind not in CERTIFICATE_TYPES:
        parsed.errors["type"] = "console.error.choice"
    parsed.body["type"] = kind
    parsed.body["agb_code"] = _text(form, "agb_code").replace(" ", "") or None
    services = [line.strip() for line in form.get("services", "").splitlines()]
    parsed.body["services"] = [s for s in dict.fromkeys(services) if s]
    return parsed


def _instant(form: Mapping[str, str], name: str, parsed: Parsed) -> str | None:
    """A ``datetime-local`` field (no zone; the page says UTC) or a full ISO 8601 time."""
    raw = _text(form, name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        parsed.errors[name] = "console.error.time"
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def audit_query(form: Mapping[str, str]) -> Parsed:
    """The audit page's filters → ``GET /v1/practices/{p}/audit``'s query parameters (only
    those given; an unknown type is refused here rather than as the service's 400)."""
    parsed = Parsed()
    for ours, theirs in (("from", "from"), ("to", "to")):
        if (value := _instant(form, ours, parsed)) is not None:
            parsed.body[theirs] = value
    if employee := _text(form, "employee"):
        parsed.body["employee"] = employee
    if kind := _text(form, "type"):
        if kind in AUDIT_ACTIONS:
            parsed.body["type"] = kind
        else:
            parsed.errors["type"] = "console.error.choice"
    if cursor := _text(form, "cursor"):
        parsed.body["cursor"] = cursor
    return parsed


#: A service's problem field (the pydantic location) → the form's field.
_FIELD_ALIASES = {
    "pkcs12": "pkcs12",
    "body": "form",
    **{policy: form for form, (policy, _) in SCALED.items()},
}


def _form_field(location: str) -> str:
    """``password_policy.min_strength`` → ``min_strength``; ``body`` → ``form``."""
    last = location.rsplit(".", 1)[-1]
    return _FIELD_ALIASES.get(last, last)


#: Problem types that belong to one field of the form, and the message key shown there.
_PROBLEM_FIELDS = {
    "username-taken": ("username", "console.problem.username-taken"),
    "wrong-password": ("password", "console.problem.wrong-password"),
    "unreadable-certificate": ("pkcs12", "console.problem.unreadable-certificate"),
    "key-mismatch": ("pkcs12", "console.problem.key-mismatch"),
    "certificate-expired": ("pkcs12", "console.problem.certificate-expired"),
    "certificate-not-yet-valid": ("pkcs12", "console.problem.certificate-not-yet-valid"),
    "duplicate-certificate": ("pkcs12", "console.problem.duplicate-certificate"),
    "unknown-employee": ("employee", "console.problem.unknown-employee"),
    "dezi-number-taken": ("dezi_number", "console.problem.dezi-number-taken"),
}


def problem_errors(slug: str, problem: Mapping[str, Any]) -> dict[str, str]:
    """The messages of a refused call, by form field (``form`` when it names none).

    A value is a message key, except for a service's own validation message (``invalid-
    request``), which is shown as the service wrote it (English, prefixed by a key)."""
    if slug == "invalid-request":
        errors: dict[str, str] = {}
        for item in problem.get("errors") or []:
            if isinstance(item, Mapping):
                name = _form_field(str(item.get("field", "body")))
                errors.setdefault(name, "console.error.invalid")
        return errors or {"form": "console.error.invalid"}
    if slug == "two-factor-not-allowed":
        unmet = [u for u in problem.get("unmet") or [] if u in ("min_strength", "email")]
        return {u: f"console.problem.two-factor-{u}" for u in unmet} or {
            "two_factor_required": "console.problem.two-factor-not-allowed"
        }
    if slug == "employees-incomplete":
        return {"two_factor_required": "console.problem.employees-incomplete"}
    if slug in _PROBLEM_FIELDS:
        name, key = _PROBLEM_FIELDS[slug]
        return {name: key}
    return {"form": f"console.problem.{slug}" if slug else "console.problem.unknown"}
