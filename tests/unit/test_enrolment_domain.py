"""The enrolment service's pure rules: BSN, masking, readiness, practice switch, the wizard."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta

import pytest

from services.enrolment.domain import bsn, enrolment
from services.enrolment.domain.masking import mask, mask_email, mask_phone
from services.enrolment.domain.practice import (
    PracticeSettings,
    incomplete_employees,
    switching_on,
    two_factor_unmet,
)
from services.enrolment.domain.readiness import Person, missing, missing_identity, summarise
from shared.events import PasswordPolicy

KEY = b"a-test-key-of-enough-length"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("123456782", "123456782"),
        ("111222333", "111222333"),
        ("1234.56.782", "123456782"),
        (" 123 456 782 ", "123456782"),
        ("10000008", "010000008"),  # eight digits: the leading zero was left off
    ],
)
def test_valid_bsns_are_normalised(typed: str, normal: str) -> None:
    assert bsn.normalise(typed) == normal


@pytest.mark.parametrize(
    "typed",
    [
        "123456781",
        "123456783",
        "000000000",
        "12345678",
        "1234567820",
        "12345678a",
        "",
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff12",  # full-width digits,
    ],
)
def test_invalid_bsns_are_refused(typed: str) -> None:
    with pytest.raises(bsn.InvalidBsn):
        bsn.normalise(typed)


def test_bsn_hash_is_hmac_sha256_of_the_nine_digits() -> None:
    expected = hmac.new(KEY, b"010000008", hashlib.sha256).hexdigest()
    assert bsn.bsn_hash(KEY, "10000008") == expected
    assert bsn.bsn_hash(KEY, "010.000.008") == expected
    assert bsn.bsn_hash(b"another-key-entirely-here", "10000008") != expected
    assert "10000008" not in expected


def test_same_bsn() -> None:
    stored = bsn.bsn_hash(KEY, "123456782")
    assert bsn.same_bsn(KEY, "1234 56 782", stored)
    assert not bsn.same_bsn(KEY, "111222333", stored)
    assert not bsn.same_bsn(KEY, "not a bsn", stored)
    assert not bsn.same_bsn(KEY, "123456782", None)


def test_masking() -> None:
    assert mask_email("piet.devries@fysio-jansen.nl") == "p***s@fysio-jansen.nl"
    assert mask_email("ab@x.nl") == "a***@x.nl"
    assert mask_phone("+31612345678") == "+31*******78"
    assert mask("+31612345678") == "+31*******78" and mask("jan@x.nl").startswith("j***")
    assert "devries" not in mask("piet.devries@fysio-jansen.nl")


def person(**overrides: object) -> Person:
    values: dict[str, object] = {
        "employee": "e1",
        "username": "piet",
        "name": "Piet",
        "in_service": True,
        "birth_date": date(1980, 5, 17),
        "email": "piet@example.nl",
        "has_bsn": True,
        "has_strong_factor": True,
    }
    values.update(overrides)
    return Person(**values)  # type: ignore[arg-type]


def test_readiness_lists_what_is_missing_in_a_fixed_order() -> None:
    assert missing(person()) == []
    lacking = person(birth_date=None, email=None, has_bsn=False, has_strong_factor=False)
    assert missing_identity(lacking) == ["birth_date", "email", "bsn"]
    assert missing(lacking) == ["birth_date", "email", "bsn", "strong_factor"]
    assert missing(person(email="")) == ["email"]


def test_readiness_summary_counts_employees_in_service_only() -> None:
    people = [
        person(),
        person(employee="e2", has_strong_factor=False),
        person(employee="e3", has_bsn=False, has_strong_factor=False),
        person(employee="e4", in_service=False, has_bsn=False),
    ]
    s = summarise(people)
    assert (s.employees, s.ready, s.incomplete, s.to_enrol) == (3, 1, 1, 1)


def settings(**overrides: object) -> PracticeSettings:
    values: dict[str, object] = {
        "name": "Fysio",
        "email": "praktijk@fysio.nl",
        "two_factor_required": False,
        "policy": PasswordPolicy(min_strength=60),
    }
    values.update(overrides)
    return PracticeSettings(**values)  # type: ignore[arg-type]


def test_two_factor_needs_strength_60_and_an_email_address() -> None:
    assert two_factor_unmet(settings()) == []
    assert two_factor_unmet(settings(policy=PasswordPolicy(min_strength=50))) == ["min_strength"]
    assert two_factor_unmet(settings(email=None)) == ["email"]
    assert two_factor_unmet(settings(email=None, policy=PasswordPolicy())) == [
        "min_strength",
        "email",
    ]


def test_merge_keeps_what_is_not_given() -> None:
    before = settings(policy=PasswordPolicy(min_strength=60, history=7))
    after = before.merged({"two_factor_required": True}, {"lockout_seconds": 60})
    assert after.two_factor_required and after.name == "Fysio"
    assert after.policy.history == 7 and after.policy.lockout_seconds == 60
    assert after.policy.min_strength == 60
    assert switching_on(before, after) and not switching_on(after, after)
    assert not switching_on(after, before)
    assert before.merged({"email": None}, {}).email is None


def test_incomplete_employees_are_those_in_service_lacking_identity_data() -> None:
    people = [
        person(),
        person(employee="e2", username="jan", email=None, has_strong_factor=False),
        person(employee="e3", in_service=False, birth_date=None),
    ]
    found = incomplete_employees(people)
    assert [(i.employee, i.username, i.missing) for i in found] == [("e2", "jan", ["email"])]


def test_wizard_access() -> None:
    window = timedelta(seconds=900)
    assert enrolment.wizard_access({"scope": "enrol"}, NOW, window) == "enrol"
    recent = int((NOW - timedelta(seconds=60)).timestamp())
    old = int((NOW - timedelta(seconds=901)).timestamp())
    rec = {"scope": "session", "amr": ["pwd", "rec"]}
    assert enrolment.wizard_access({**rec, "auth_time": recent}, NOW, window) == "recovery"
    assert enrolment.wizard_access({**rec, "auth_time": old}, NOW, window) is None
    otp_session = {"scope": "session", "amr": ["pwd", "otp"], "auth_time": recent}
    assert enrolment.wizard_access(otp_session, NOW, window) is None
    assert enrolment.wizard_access({"scope": "other"}, NOW, window) is None


def test_start_refusals_in_order() -> None:
    assert enrolment.start_refusal([], False, False, "enrol") is None
    assert enrolment.start_refusal(["bsn"], True, True, "enrol") == "employee-incomplete"
    assert enrolment.start_refusal([], True, True, "enrol") == "enrolment-blocked"
    assert enrolment.start_refusal([], False, True, "enrol") == "factor-exists"
    assert enrolment.start_refusal([], False, True, "recovery") is None


def test_identity_and_confirm_refusals() -> None:
    later = NOW + timedelta(minutes=1)
    assert enrolment.identity_refusal("sent", False, later, NOW) is None
    assert enrolment.identity_refusal("identified", False, later, NOW) is None
    assert enrolment.identity_refusal("sent", False, NOW, NOW) == "activation-code-expired"
    assert enrolment.identity_refusal("blocked", False, NOW, NOW) == "enrolment-blocked"
    assert enrolment.identity_refusal("sent", True, later, NOW) == "enrolment-blocked"
    assert enrolment.identity_refusal("done", False, later, NOW) == "not-found"
    assert enrolment.identity_refusal("void", True, later, NOW) == "not-found"
    assert enrolment.confirm_refusal("identified", False, later, NOW) is None
    assert enrolment.confirm_refusal("sent", False, later, NOW) == "identity-required"
    assert enrolment.confirm_refusal("identified", False, NOW, NOW) == "enrolment-expired"
    assert enrolment.confirm_refusal("blocked", False, later, NOW) == "enrolment-blocked"
    assert enrolment.confirm_refusal("identified", True, later, NOW) == "enrolment-blocked"
    assert enrolment.confirm_refusal("done", False, later, NOW) == "not-found"


def test_the_failure_that_reaches_the_maximum_blocks() -> None:
    assert not enrolment.blocks(1, 5)
    assert not enrolment.blocks(4, 5)
    assert enrolment.blocks(5, 5) and enrolment.blocks(6, 5)
    assert enrolment.minutes(3600) == 60 and enrolment.minutes(61) == 2
    assert enrolment.minutes(1) == 1
