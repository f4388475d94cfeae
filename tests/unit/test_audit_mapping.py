"""The audit trail's pure rule: every auditable event type maps to its record (action,
outcome, actor, object, source), other types to None, and no secret reaches a record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.enrolment.domain.audit import (
    ACTIONS,
    AUDITED_TYPES,
    SECRET_KEY,
    Actor,
    Event,
    to_record,
)

WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ADMIN = {"user": "e-admin", "rights_group": 1, "address": "10.0.0.7"}


def event(type_: str, data: dict[str, Any], subject: str = "e-1") -> Event:
    return Event(uuid.uuid4(), type_, "auth@b", WHEN, "fysio", subject, data)


# type, data, subject → action, outcome, object type, object id, detail subset
CASES: list[tuple[str, dict[str, Any], str, str, str, str, str, dict[str, Any]]] = [
    (
        "login.failed",
        {"username": "anna", "zone": "b", "employee": None, "actor": {"address": "1.2.3.4"}},
        "user:anna",
        "login.failed",
        "failure",
        "employee",
        "user:anna",
        {"username": "anna"},
    ),
    (
        "login.failed",
        {"username": "anna", "factor": "totp", "employee": "e-1", "actor": {"user": "e-1"}},
        "user:anna",
        "second_factor.failed",
        "failure",
        "employee",
        "e-1",
        {"factor": "totp"},
    ),
    (
        "account.locked",
        {"username": "anna", "locked_until": "2026-11-28T12:30:00+00:00", "employee": "e-1"},
        "user:anna",
        "account.locked",
        "failure",
        "employee",
        "e-1",
        {"locked_until": "2026-11-28T12:30:00+00:00"},
    ),
    (
        "enrolment.code_resent",
        {"employee": "e-2", "enrolment_id": "n-1", "actor": {"user": "e-1", "rights_group": 1}},
        "e-2",
        "enrolment.code_resent",
        "success",
        "employee",
        "e-2",
        {"enrolment_id": "n-1"},
    ),
    (
        "factor.removed",
        {"employee": "e-2", "factors": ["f-1"], "kind": "sms", "actor": {"user": "e-1"}},
        "e-2",
        "factor.removed",
        "success",
        "employee",
        "e-2",
        {"factors": ["f-1"], "kind": "sms"},
    ),
    (
        "account.unlocked",
        {"username": "piet", "employee": "e-2", "actor": {"user": "e-1", "rights_group": 1}},
        "e-2",
        "account.unlocked",
        "success",
        "employee",
        "e-2",
        {"username": "piet"},
    ),
    (
        "account.sessions_ended",
        {"username": "piet", "employee": "e-2", "actor": {"user": "e-1", "rights_group": 1}},
        "e-2",
        "account.sessions_ended",
        "success",
        "employee",
        "e-2",
        {},
    ),
    (
        "login.succeeded",
        {"username": "anna", "employee": "e-1", "amr": ["pwd", "otp"]},
        "e-1",
        "login.succeeded",
        "success",
        "employee",
        "e-1",
        {"amr": ["pwd", "otp"]},
    ),
    (
        "totp.replayed",
        {"step": 5},
        "e-1",
        "second_factor.replayed",
        "failure",
        "employee",
        "e-1",
        {},
    ),
    ("recovery.used", {}, "e-1", "recovery_code.used", "success", "employee", "e-1", {}),
    (
        "fallback.used",
        {"employee": "e-1", "username": "anna", "certificate": "c1", "uses_left": 2},
        "e-1",
        "fallback.used",
        "success",
        "employee",
        "e-1",
        {"certificate": "c1", "uses_left": 2},
    ),
    (
        "password.changed",
        {"temporary": True, "strength": 80, "by": "e-admin", "actor": ADMIN},
        "e-1",
        "password.reset",
        "success",
        "employee",
        "e-1",
        {"temporary": True},
    ),
    (
        "password.changed",
        {"temporary": False, "strength": 80, "by": "e-1"},
        "e-1",
        "password.changed",
        "success",
        "employee",
        "e-1",
        {"strength": 80},
    ),
    (
        "practice.upserted",
        {"name": "Fysio", "two_factor_required": True, "password_policy": {"min_strength": 60}},
        "fysio",
        "practice.settings_changed",
        "success",
        "practice",
        "fysio",
        {"two_factor_required": True, "policy": {"min_strength": 60}},
    ),
    (
        "employee.upserted",
        {"employee": "e-2", "rights_group": 2, "in_service": False, "bsn_hash": "ab" * 32},
        "e-2",
        "employee.changed",
        "success",
        "employee",
        "e-2",
        {"in_service": False},
    ),
    (
        "factor.enrolled",
        {"factor_id": "f1", "kind": "totp"},
        "e-1",
        "factor.enrolled",
        "success",
        "employee",
        "e-1",
        {"kind": "totp"},
    ),
    (
        "factor.deactivated",
        {"employee": "e-1", "factors": ["f1"], "by": "e-admin", "actor": ADMIN},
        "e-1",
        "factor.deactivated",
        "success",
        "employee",
        "e-1",
        {"factors": ["f1"]},
    ),
    (
        "recovery.regenerated",
        {},
        "e-1",
        "recovery_code.regenerated",
        "success",
        "employee",
        "e-1",
        {},
    ),
    (
        "identity.failed",
        {"failures": 2},
        "e-1",
        "enrolment.identity_failed",
        "failure",
        "employee",
        "e-1",
        {"failures": 2},
    ),
    (
        "enrolment.blocked",
        {"failures": 5},
        "e-1",
        "enrolment.blocked",
        "failure",
        "employee",
        "e-1",
        {"failures": 5},
    ),
    (
        "certificate.upserted",
        {"nr": "c1", "version": 1, "change": "imported", "certificate_pem": "-----BEGIN"},
        "c1",
        "certificate.imported",
        "success",
        "certificate",
        "c1",
        {"version": 1},
    ),
    (
        "certificate.upserted",
        {"nr": "c1", "version": 3, "change": "granted", "employee": "e-1"},
        "c1",
        "certificate.granted",
        "success",
        "certificate",
        "c1",
        {"employee": "e-1"},
    ),
    (
        "certificate.upserted",
        {"nr": "c1", "version": 4, "change": "revoked"},
        "c1",
        "certificate.grant_revoked",
        "success",
        "certificate",
        "c1",
        {},
    ),
    (
        "certificate.upserted",
        {"nr": "c1", "version": 5, "change": "updated"},
        "c1",
        "certificate.changed",
        "success",
        "certificate",
        "c1",
        {},
    ),
    (
        "certificate.upserted",
        {"nr": "c1", "version": 6, "change": "removed"},
        "c1",
        "certificate.removed",
        "success",
        "certificate",
        "c1",
        {},
    ),
    # Written before events said what changed: the state tells what it can.
    (
        "certificate.upserted",
        {"nr": "c1", "version": 1},
        "c1",
        "certificate.imported",
        "success",
        "certificate",
        "c1",
        {},
    ),
    (
        "certificate.upserted",
        {"nr": "c1", "version": 2, "removed": True},
        "c1",
        "certificate.removed",
        "success",
        "certificate",
        "c1",
        {},
    ),
]


@pytest.mark.parametrize(
    ("type_", "data", "subject", "action", "outcome", "object_type", "object_id", "detail"),
    CASES,
)
def test_auditable_event_maps_to_its_record(
    type_: str,
    data: dict[str, Any],
    subject: str,
    action: str,
    outcome: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any],
) -> None:
    ev = event(type_, data, subject)
    record = to_record(ev)
    assert record is not None
    assert (record.action, record.outcome, record.object_type, record.object_id) == (
        action,
        outcome,
        object_type,
        object_id,
    )
    assert action in ACTIONS
    assert (record.event_id, record.practice, record.time, record.source) == (
        ev.id,
        "fysio",
        WHEN,
        "auth@b",
    )
    assert detail.items() <= record.detail.items()
    raw = data.get("actor")
    expected = Actor(**raw) if isinstance(raw, dict) else Actor()
    assert record.actor == expected


def test_every_auditable_type_is_covered() -> None:
    assert {c[0] for c in CASES} == AUDITED_TYPES
    assert {c[3] for c in CASES} == ACTIONS


@pytest.mark.parametrize(
    "type_",
    [
        "token.issued",
        "token.renewed",
        "token.revoked",
        "session.revoked",
        "totp.used",
        "sts.key.published",
        "enrolment.started",
        "identity.verified",
        "certificate.expiring",
        "notify.requested",
        "dead_letter",
        "factor.credential",
        "credential.password",
    ],
)
def test_other_events_are_not_audited(type_: str) -> None:
    assert to_record(event(type_, {"employee": "e-1", "actor": ADMIN})) is None


def test_malformed_actor_is_recorded_without_it() -> None:
    bad = {"user": 5, "rights_group": True, "address": ["x"]}
    record = to_record(event("login.succeeded", {"employee": "e-1", "actor": bad}))
    assert record is not None and record.actor == Actor()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
SECRET_NAMES = st.sampled_from(
    [
        "password",
        "new_password",
        "code",
        "recovery_code",
        "secret",
        "token",
        "bsn",
        "bsn_hash",
        "sealed",
        "key_pem",
        "otp",
        "nonce",
        "signature",
        "TOTP_SECRET",
    ]
)


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@given(
    type_=st.sampled_from(sorted(AUDITED_TYPES)),
    data=st.dictionaries(st.text(max_size=12) | SECRET_NAMES, JSON, max_size=8),
    secrets=st.dictionaries(SECRET_NAMES, JSON, min_size=1, max_size=4),
)
def test_no_secret_key_reaches_a_record(
    type_: str, data: dict[str, Any], secrets: dict[str, Any]
) -> None:
    # Secrets both at the top and nested under every field a rule may copy.
    nested = {name: secrets for name in ("password_policy", "amr", "factors", "username")}
    record = to_record(event(type_, {**data, **secrets, **nested}))
    assert record is not None
    assert not [k for k in _keys(record.detail) if SECRET_KEY.search(k)]
    assert not {"password", "code", "secret", "token", "bsn"} & {
        k.lower() for k in _keys(record.detail)
    }
