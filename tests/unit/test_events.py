"""The event envelope and the password policy schema (shared.events)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events import (
    EmployeeUpserted,
    Envelope,
    FactorCredential,
    PasswordPolicy,
    storable_tree,
)


def envelope() -> Envelope:
    return Envelope(
        type="login.failed",
        source="auth@b",
        time=datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC),
        practice="fysio",
        subject="emp-1",
        data={"reason": "password", "attempt": 3, "nested": {"zones": ["a", "b"]}},
    )


def test_envelope_json_round_trip() -> None:
    original = envelope()
    text = original.model_dump_json()
    back = Envelope.model_validate_json(text)
    assert back == original
    assert back.id == original.id
    assert back.time == original.time and back.time.utcoffset() is not None
    assert back.data["nested"] == {"zones": ["a", "b"]}
    raw = json.loads(text)
    assert set(raw) == {"id", "type", "source", "time", "practice", "subject", "version", "data"}
    assert uuid.UUID(raw["id"]) == original.id
    assert raw["version"] == 1


def test_envelope_defaults_are_fresh() -> None:
    one, two = envelope(), envelope()
    assert one.id != two.id
    before = datetime.now(UTC)
    made = Envelope(type="t", source="auth@a", practice="p", subject="s")
    assert before <= made.time <= datetime.now(UTC)
    assert made.data == {}
    made.data["x"] = 1
    assert Envelope(type="t", source="auth@a", practice="p", subject="s").data == {}


def test_envelope_rejects_unknown_fields() -> None:
    raw = json.loads(envelope().model_dump_json())
    raw["unexpected"] = True
    with pytest.raises(ValidationError):
        Envelope.model_validate(raw)


def test_key_is_practice_and_subject() -> None:
    assert envelope().key == "fysio:emp-1"


@pytest.mark.parametrize(
    ("source", "zone"), [("auth@a", "a"), ("enrolment@b", "b"), ("svc@host@b", "b")]
)
def test_zone_from_source(source: str, zone: str) -> None:
    assert envelope().model_copy(update={"source": source}).zone == zone


def test_password_policy_defaults() -> None:
    policy = PasswordPolicy()
    assert policy.max_attempts == 5
    assert policy.lockout_seconds == 1800
    assert policy.history == 20
    assert policy.change_after_days == 0  # never
    assert policy.disable_after_days == 0  # never
    assert 0 <= policy.min_strength <= 100


@pytest.mark.parametrize(
    "field",
    [
        {"min_strength": 101},
        {"min_strength": -1},
        {"max_attempts": 0},
        {"lockout_seconds": 0},
        {"history": -1},
        {"history": 51},
        {"change_after_days": -1},
        {"disable_after_days": -1},
    ],
)
def test_password_policy_bounds(field: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        PasswordPolicy.model_validate(field)


def test_password_policy_accepts_its_bounds_and_rejects_unknown_fields() -> None:
    assert PasswordPolicy(min_strength=100).min_strength == 100
    assert PasswordPolicy(min_strength=0, history=0).history == 0
    with pytest.raises(ValidationError):
        PasswordPolicy.model_validate({"min_strenght": 60})


def test_password_policy_json_round_trip() -> None:
    policy = PasswordPolicy(min_strength=60, change_after_days=90, max_attempts=3)
    assert PasswordPolicy.model_validate_json(policy.model_dump_json()) == policy


def employee(**changes: object) -> dict[str, object]:
    return {
        "employee": "e1",
        "username": "jan",
        "name": "Jan de Vries",
        "rights_group": 2,
        "version": 1,
        "updated_at": "2026-11-23T10:00:00Z",
        "zone": "a",
        **changes,
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"phone": "0612345678"},
        {"phone": "+06123"},
        {"email": "jan.example.nl"},
        {"email": "jan@localhost"},
        {"birth_date": "2999-01-01"},
        {"birth_date": "1850-01-01"},
        {"bsn_hash": "123456782"},
        {"rights_group": 0},
        {"employee": "../x"},
    ],
)
def test_employee_upserts_are_validated_the_same_by_every_consumer(
    changes: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        EmployeeUpserted.model_validate(employee(**changes))


def test_a_complete_employee_upsert_is_accepted() -> None:
    body = EmployeeUpserted.model_validate(
        employee(
            phone="+31612345678",
            email="jan@fysio-jansen.nl",
            birth_date="1980-05-17",
            bsn_hash="a" * 64,
        )
    )
    assert body.phone == "+31612345678" and body.birth_date is not None


def test_factor_credentials_name_their_kind() -> None:
    base = {
        "factor": "rc.e1",
        "employee": "e1",
        "sealed": "v1.k.x",
        "active": True,
        "created_at": "2026-11-23T10:00:00Z",
        "version": 1,
        "updated_at": "2026-11-23T10:00:00Z",
        "zone": "a",
    }
    assert FactorCredential.model_validate({**base, "kind": "recovery"}).kind == "recovery"
    with pytest.raises(ValidationError):
        FactorCredential.model_validate({**base, "kind": "password"})


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"a": "x\x00y"}, "a"),
        ({"a": ["ok", {"b": "\ud800"}]}, "a.1.b"),
        ({"a": {"k\x00": 1}}, "a.(key)"),
        ({"é": ["ü", "\x00"]}, "é.1"),
    ],
)
def test_storable_tree_names_where_the_bad_string_is(data: dict[str, Any], where: str) -> None:
    """The walk builds its paths only once a bad string is found (every event made or read
    passes here); the error still names the place."""
    with pytest.raises(ValueError, match=rf"^{re.escape(where)}: must not contain"):
        storable_tree(data)


def test_storable_tree_gives_clean_data_back_as_it_is() -> None:
    data = {"a": ["ok", {"b": "ünïcode", "n": 3, "f": 1.5, "z": None}], "é": True}
    assert storable_tree(data) is data
