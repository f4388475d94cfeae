"""The audit trail's pure rule: which bus event is an audit record, and what it records
(NEN 7513 / IHE ATNA: action, time, outcome, actor, object, source).

:func:`to_record` maps an event to an :class:`AuditRecord`, or to None for an event that is
no authentication or administrative act (token issued or renewed, a key published, …). The
record's ``detail`` holds only the allow-listed, non-secret extras of each event type, and
:func:`safe_detail` drops any key that could name a secret whatever the list says.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.audit_actions import AUDIT_ACTIONS
from shared.tokens import FALLBACK_AAL, TWO_FACTOR_AAL

#: Sessions that may read the audit trail (NEN 7513: two factors): a login with a second factor
#: (``aal2``) and a certificate fallback (``aal2-fallback``: the password and a certificate's
#: signature, two factors too). A password-only session (``aal1``) may not.
READER_AALS = frozenset({TWO_FACTOR_AAL, FALLBACK_AAL})

Outcome = Literal["success", "failure"]
ObjectType = Literal["employee", "certificate", "practice"]

#: Keys never copied into a record, at any depth of ``detail`` (passwords, codes, tokens, TOTP
#: secrets, sealed values, BSNs and their hashes, private keys).
SECRET_KEY = re.compile(r"pass|code|secret|token|bsn|seal|key|pem|otp|hash|nonce|signature", re.I)
#: A detail value longer than this is cut (a record is evidence, not a copy of the event).
MAX_TEXT = 200


@dataclass(frozen=True)
class Actor:
    """Who acted: an employee id (None for an unknown username), their rights group, and
    the client address of the request."""

    user: str | None = None
    rights_group: int | None = None
    address: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    event_id: uuid.UUID
    practice: str
    time: datetime
    action: str
    outcome: Outcome
    actor: Actor
    object_type: ObjectType
    object_id: str
    #: ``service@zone`` of the event's writer.
    source: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """What the rule reads of an event envelope (kept apart from pydantic: a pure input)."""

    id: uuid.UUID
    type: str
    source: str
    time: datetime
    practice: str
    subject: str
    data: Mapping[str, Any]
    #: Whether the record carried Tweestap's tag (:mod:`shared.bus_tags`). An untagged event
    #: (a host system's directory upsert) is recorded, but what it says of its writer is only
    #: a claim: the record's source says "unverified:" and no actor is believed.
    authenticated: bool = True


#: The source of a record whose event did not carry Tweestap's tag.
UNVERIFIED = "unverified:"


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def actor_of(data: Mapping[str, Any]) -> Actor:
    """The event's ``actor`` object; missing or malformed parts are None (an event written
    before actors existed is still recorded)."""
    raw = data.get("actor")
    if not isinstance(raw, Mapping):
        return Actor()
    group = raw.get("rights_group")
    return Actor(
        user=_text(raw.get("user"), 100),
        rights_group=group if isinstance(group, int) and not isinstance(group, bool) else None,
        address=_text(raw.get("address"), 100),
    )


def safe_detail(value: Any) -> Any:
    """``value`` without keys that could name a secret, strings cut to :data:`MAX_TEXT`, and
    only JSON scalars, lists and objects."""
    if isinstance(value, Mapping):
        return {
            str(k): safe_detail(v)
            for k, v in value.items()
            if isinstance(k, str) and not SECRET_KEY.search(k)
        }
    if isinstance(value, list | tuple):
        return [safe_detail(v) for v in value[:50]]
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]


def _pick(data: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {n: data[n] for n in names if data.get(n) is not None}


@dataclass(frozen=True)
class Rule:
    """How one event type becomes a record."""

    action: Callable[[Event], str]
    outcome: Outcome
    object_type: ObjectType
    object_id: Callable[[Event], str]
    detail: Callable[[Event], dict[str, Any]]


def _fixed(action: str) -> Callable[[Event], str]:
    return lambda _: action


def _employee(event: Event) -> str:
    """The employee acted on: ``data.employee``, else the subject (``user:<username>`` where
    a failed login names no known employee)."""
    return _text(event.data.get("employee"), 100) or event.subject


def _login_failed(event: Event) -> str:
    return "second_factor.failed" if event.data.get("factor") else "login.failed"


def _password(event: Event) -> str:
    by = event.data.get("by")
    return "password.reset" if by is not None and by != event.subject else "password.changed"


#: Of ``certificate.upserted``: the certs service's word for the change → the action.
CERTIFICATE_CHANGES = {
    "imported": "certificate.imported",
    "updated": "certificate.changed",
    "granted": "certificate.granted",
    "revoked": "certificate.grant_revoked",
    "removed": "certificate.removed",
}


def _certificate(event: Event) -> str:
    change = event.data.get("change")
    if isinstance(change, str) and change in CERTIFICATE_CHANGES:
        return CERTIFICATE_CHANGES[change]
    if event.data.get("removed") is True:
        return "certificate.removed"
    return "certificate.imported" if event.data.get("version") == 1 else "certificate.changed"


def _certificate_id(event: Event) -> str:
    return _text(event.data.get("nr"), 100) or event.subject


def _certificate_detail(event: Event) -> dict[str, Any]:
    return _pick(event.data, "employee", "subject", "serial_number", "type", "kind", "version")


def _practice_detail(event: Event) -> dict[str, Any]:
    detail = _pick(event.data, "name", "two_factor_required", "version")
    if isinstance(policy := event.data.get("password_policy"), Mapping):
        detail["policy"] = dict(policy)
    return detail


RULES: dict[str, Rule] = {
    "login.failed": Rule(
        _login_failed,
        "failure",
        "employee",
        _employee,
        lambda e: _pick(e.data, "username", "factor", "zone"),
    ),
    "account.locked": Rule(
        _fixed("account.locked"),
        "failure",
        "employee",
        _employee,
        lambda e: _pick(e.data, "username", "locked_until"),
    ),
    "account.unlocked": Rule(
        _fixed("account.unlocked"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "username"),
    ),
    "account.sessions_ended": Rule(
        _fixed("account.sessions_ended"), "success", "employee", _employee, lambda e: {}
    ),
    "login.succeeded": Rule(
        _fixed("login.succeeded"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "username", "factor", "factor_id", "means", "amr", "level"),
    ),
    "totp.replayed": Rule(
        _fixed("second_factor.replayed"),
        "failure",
        "employee",
        _employee,
        lambda e: {"factor": "totp"},
    ),
    "recovery.used": Rule(
        _fixed("recovery_code.used"), "success", "employee", _employee, lambda e: {}
    ),
    "fallback.used": Rule(
        _fixed("fallback.used"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "username", "certificate", "uses_left"),
    ),
    "password.changed": Rule(
        _password,
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "temporary", "strength"),
    ),
    "practice.upserted": Rule(
        _fixed("practice.settings_changed"),
        "success",
        "practice",
        lambda e: e.practice,
        _practice_detail,
    ),
    "employee.upserted": Rule(
        _fixed("employee.changed"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "rights_group", "in_service", "version"),
    ),
    "factor.enrolled": Rule(
        _fixed("factor.enrolled"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "kind", "factor_id"),
    ),
    "factor.deactivated": Rule(
        _fixed("factor.deactivated"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "factors", "unblocked"),
    ),
    "factor.removed": Rule(
        _fixed("factor.removed"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "factors", "kind"),
    ),
    "recovery.regenerated": Rule(
        _fixed("recovery_code.regenerated"), "success", "employee", _employee, lambda e: {}
    ),
    "enrolment.code_resent": Rule(
        _fixed("enrolment.code_resent"),
        "success",
        "employee",
        _employee,
        lambda e: _pick(e.data, "enrolment_id", "expires_at"),
    ),
    "identity.failed": Rule(
        _fixed("enrolment.identity_failed"),
        "failure",
        "employee",
        _employee,
        lambda e: _pick(e.data, "failures"),
    ),
    "enrolment.blocked": Rule(
        _fixed("enrolment.blocked"),
        "failure",
        "employee",
        _employee,
        lambda e: _pick(e.data, "failures"),
    ),
    "certificate.upserted": Rule(
        _certificate, "success", "certificate", _certificate_id, _certificate_detail
    ),
}
#: Event types that become audit records (a cheap filter before any database work).
AUDITED_TYPES = frozenset(RULES)
#: Every action a record can carry (for the ``type`` filter's check): the shared contract.
ACTIONS = frozenset(AUDIT_ACTIONS)


def may_read(aal: object) -> bool:
    """Whether a session that logged in at ``aal`` may read the audit trail."""
    return isinstance(aal, str) and aal in READER_AALS


def to_record(event: Event) -> AuditRecord | None:
    """The audit record of ``event``, or None if it is not an auditable act."""
    rule = RULES.get(event.type)
    if rule is None:
        return None
    return AuditRecord(
        event_id=event.id,
        practice=event.practice,
        time=event.time,
        action=rule.action(event),
        outcome=rule.outcome,
        actor=actor_of(event.data) if event.authenticated else Actor(),
        object_type=rule.object_type,
        object_id=rule.object_id(event)[:200],
        source=event.source if event.authenticated else f"{UNVERIFIED}{event.source}"[:100],
        detail=safe_detail(rule.detail(event)),
    )
