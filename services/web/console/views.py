"""The services' answers shaped for the console's templates. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from services.web.console.when import local_time

#: What an employee may lack, in the order the pages name it.
MISSING_ORDER = ("birth_date", "email", "bsn", "strong_factor")


def common_name(dn: str) -> str | None:
    """The CN of an RFC 4514 distinguished name (``CN=Jan de Vries,O=…``), escapes undone;
    None when it has none."""
    for part in re.split(r"(?<!\\),", dn):
        name, _, value = part.partition("=")
        if name.strip().upper() == "CN" and value:
            return re.sub(r"\\(.)", r"\1", value.strip())
    return None


def holder(certificate: Mapping[str, Any]) -> str:
    """How a certificate is named to a person: its holder's name and UZI number (``Jan de
    Vries — UZI 123456789``), else its holder's name, else its subject as it is."""
    subject = str(certificate.get("subject", ""))
    name = common_name(subject) or subject
    uzi = certificate.get("uzi") or {}
    number = uzi.get("number") if isinstance(uzi, Mapping) else None
    return f"{name} — UZI {number}" if number else name


def serial_pairs(serial_hex: str) -> str:
    """``0A1B2C`` → ``0A:1B:2C`` (upper case; an odd length gets a leading zero)."""
    text = serial_hex.replace(":", "").replace(" ", "").upper()
    if len(text) % 2:
        text = "0" + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


@dataclass(frozen=True)
class EmployeeRow:
    employee: str
    username: str
    name: str
    rights_group: int
    in_service: bool
    #: Of :data:`MISSING_ORDER`; empty when nothing is missing.
    missing: tuple[str, ...]
    #: The account at auth (issue 25): ``active``, ``locked``, ``dormant``,
    #: ``out_of_service``; None when auth did not answer.
    status: str | None = None
    locked_until: str = ""
    last_login: str = ""
    #: Active sign-in methods, strongest first.
    factor_kinds: tuple[str, ...] = ()
    #: Until when a waiting activation code is valid (empty: none waits).
    activation_until: str = ""


#: What the list may be filtered by (``?status=``): an account status, or no second step.
STATUS_FILTERS = ("active", "locked", "dormant", "out_of_service", "no_factor")


def employee_rows(
    employees: Sequence[Mapping[str, Any]],
    readiness: Mapping[str, Any] | None,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    status: str = "",
) -> list[EmployeeRow]:
    """The employee list joined with the readiness answer (what each lacks) and auth's
    accounts (status, last login), filtered by ``status`` (:data:`STATUS_FILTERS`; empty: all),
    in service first, then by name."""
    accounts = accounts or {}
    lacks: dict[str, list[str]] = {}
    for item in (readiness or {}).get("employees", []):
        lacks[str(item["employee"])] = list(item.get("missing", []))
    rows = [
        EmployeeRow(
            employee=str(e["employee"]),
            username=str(e["username"]),
            name=str(e["name"]),
            rights_group=int(e["rights_group"]),
            in_service=bool(e["in_service"]),
            missing=tuple(m for m in MISSING_ORDER if m in lacks.get(str(e["employee"]), [])),
            **_account(accounts.get(str(e["employee"])) or {}),
            factor_kinds=tuple(e.get("factor_kinds") or ()),
            activation_until=local_time(e.get("activation_valid_until")),
        )
        for e in employees
    ]
    if status == "no_factor":
        rows = [r for r in rows if not r.factor_kinds]
    elif status:
        rows = [r for r in rows if r.status == status]
    return sorted(rows, key=lambda r: (not r.in_service, r.name.casefold(), r.employee))


def _account(account: Mapping[str, Any]) -> dict[str, Any]:
    if not account:
        return {}
    return {
        "status": str(account.get("status")),
        "locked_until": local_time(account.get("locked_until")),
        "last_login": local_time(account.get("last_login")),
    }


def incomplete(readiness: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Employees in service who lack data the wizard needs (birth date, e-mail, BSN): those
    the two-factor switch asks the administrator about."""
    identity = set(MISSING_ORDER) - {"strong_factor"}
    return [
        {**e, "missing": [m for m in MISSING_ORDER if m in e.get("missing", []) and m in identity]}
        for e in readiness.get("employees", [])
        if e.get("in_service") and identity & set(e.get("missing", []))
    ]


def audit_link(base: str, query: Mapping[str, str], **changes: str | None) -> str:
    """``base`` with the audit filters ``query`` as its query string, ``changes`` applied
    (a None value drops that parameter)."""
    merged = {**query, **changes}
    pairs = [(k, v) for k, v in merged.items() if v]
    return f"{base}?{urlencode(pairs)}" if pairs else base


def audit_row(
    event: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    object_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One audit record as the table's columns: time (``dd-mm-jjjj hh:mm`` Europe/Amsterdam;
    ``at`` as recorded), action, outcome, actor (user, rights group, address), object, source;
    employees by name where ``names`` knows them, the object's type in the reader's language
    where ``object_types`` names it."""
    names, object_types = names or {}, object_types or {}
    actor = event.get("actor") or {}
    target = event.get("object") or {}
    target_id = str(target.get("id", ""))
    return {
        "time": local_time(event.get("time")),
        "at": str(event.get("time", "")),
        "action": str(event.get("action", "")),
        "outcome": str(event.get("outcome", "")),
        "actor": names.get(actor.get("user") or "", actor.get("user") or "—"),
        "rights_group": actor.get("rights_group"),
        "address": actor.get("address") or "",
        "object": " ".join(
            part
            for part in (
                object_types.get(str(target.get("type", "")), str(target.get("type", ""))),
                names.get(target_id, target_id),
            )
            if part
        ),
        "source": str(event.get("source", "")),
    }
