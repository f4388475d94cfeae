"""Password strength, expiry and dormancy (services.auth.domain.passwords) and the next login
step (services.auth.domain.login)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.auth.domain import passwords
from services.auth.domain.login import next_step
from services.auth.domain.records import Credential, Practice
from shared.events import PasswordPolicy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PASSPHRASE = "tramlijn-koffiepot-zeilboot-vergiet-7"
USER_INPUTS = ("Fysio Jansen", "Pieter de Vries")


# --- strength ---------------------------------------------------------------------------------


def test_common_password_is_weak() -> None:
    assert passwords.strength("welkom01") < 30
    assert passwords.strength("wachtwoord") < 30
    assert passwords.strength("password1") < 30


def test_long_random_passphrase_is_strong() -> None:
    assert passwords.strength(PASSPHRASE) >= 80
    assert passwords.strength("vQ7#pz!Lk2@rT9$wXb4m") >= 80


def test_strength_is_within_0_and_100() -> None:
    for password in ("a", "welkom01", PASSPHRASE, PASSPHRASE * 2):
        assert 0 <= passwords.strength(password) <= 100


def test_empty_password_has_strength_zero() -> None:
    assert passwords.strength("") == 0


def test_strength_grows_with_length_of_a_passphrase() -> None:
    words = ["tramlijn", "koffiepot", "zeilboot", "vergiet"]
    scores = [passwords.strength("-".join(words[:n])) for n in range(1, 5)]
    assert scores == sorted(scores)
    assert scores[0] < scores[-1]


def test_user_inputs_lower_the_strength() -> None:
    password = "FysioJansen2024"
    without = passwords.strength(password)
    with_inputs = passwords.strength(password, USER_INPUTS)
    assert with_inputs < without
    assert with_inputs < 60  # weak at Fysio Jansen, where the name is the first guess


def test_user_inputs_match_case_insensitively_per_word() -> None:
    # A multi-word name counts word by word, whatever its case in the password.
    assert passwords.strength("vriespieter1975", USER_INPUTS) < passwords.strength(
        "vriespieter1975"
    )
    assert passwords.strength("VRIESPIETER1975", USER_INPUTS) < passwords.strength(
        "VRIESPIETER1975"
    )


def test_unrelated_user_inputs_change_nothing() -> None:
    assert passwords.strength(PASSPHRASE, USER_INPUTS) == passwords.strength(PASSPHRASE)
    assert passwords.strength("welkom01", ["", "  "]) == passwords.strength("welkom01")


def test_practice_name_with_spaces_is_weak_at_that_practice() -> None:
    assert passwords.strength("Fysio Jansen 2024", ["Fysio Jansen"]) < 60


def test_passwords_longer_than_72_characters_work() -> None:
    long = (PASSPHRASE + "-") * 4
    assert len(long) > 72
    score = passwords.strength(long, USER_INPUTS)
    assert score >= 80
    # Only the first 72 characters are scored; the rest can only make it stronger.
    assert score == passwords.strength(long[:72], USER_INPUTS)
    at_max = "x" + PASSPHRASE * 10
    at_max = at_max[: passwords.MAX_PASSWORD_LENGTH]
    assert len(at_max) == passwords.MAX_PASSWORD_LENGTH
    assert passwords.strength(at_max) >= 80


# --- expiry, must_change, dormancy -----------------------------------------------------------

NEVER = PasswordPolicy(change_after_days=0, disable_after_days=0, min_strength=60)
NINETY = PasswordPolicy(change_after_days=90, disable_after_days=30, min_strength=60)


def test_change_after_zero_never_expires() -> None:
    long_ago = NOW - timedelta(days=3650)
    assert not passwords.is_expired(NEVER, long_ago, NOW)
    assert passwords.expires_at(NEVER, long_ago) is None


def test_change_after_days_expires() -> None:
    changed = NOW - timedelta(days=90)
    assert passwords.expires_at(NINETY, changed) == NOW
    assert passwords.is_expired(NINETY, changed, NOW)
    assert not passwords.is_expired(NINETY, changed, NOW - timedelta(seconds=1))
    assert passwords.expires_at(NINETY, NOW) == NOW + timedelta(days=90)


def test_must_change_when_temporary() -> None:
    assert passwords.must_change(NEVER, 100, NOW, temporary=True, now=NOW)
    assert not passwords.must_change(NEVER, 100, NOW, temporary=False, now=NOW)


def test_must_change_when_weaker_than_policy() -> None:
    assert passwords.must_change(NEVER, 59, NOW, temporary=False, now=NOW)
    assert not passwords.must_change(NEVER, 60, NOW, temporary=False, now=NOW)


def test_must_change_when_expired() -> None:
    changed = NOW - timedelta(days=91)
    assert passwords.must_change(NINETY, 100, changed, temporary=False, now=NOW)
    assert not passwords.must_change(NEVER, 100, changed, temporary=False, now=NOW)


def test_dormant_after_disable_after_days() -> None:
    last = NOW - timedelta(days=30)
    assert passwords.is_dormant(NINETY, last, NOW)
    assert not passwords.is_dormant(NINETY, last, NOW - timedelta(seconds=1))
    # 0 = never disabled; never logged in = not dormant.
    assert not passwords.is_dormant(NEVER, NOW - timedelta(days=3650), NOW)
    assert not passwords.is_dormant(NINETY, None, NOW)


# --- next_step --------------------------------------------------------------------------------


def practice(two_factor: bool, policy: PasswordPolicy = NINETY) -> Practice:
    return Practice(id="fysio", name="Fysio Jansen", two_factor_required=two_factor, policy=policy)


def credential(
    strength: int = 90, changed_at: datetime | None = NOW, must_change: bool = False
) -> Credential:
    return Credential(
        hash="$argon2id$...", changed_at=changed_at, must_change=must_change, strength=strength
    )


@pytest.mark.parametrize("two_factor", [False, True])
@pytest.mark.parametrize("strong_factors", [0, 1])
def test_temporary_password_changes_first(two_factor: bool, strong_factors: int) -> None:
    step = next_step(practice(two_factor), credential(must_change=True), strong_factors, NOW)
    assert step == "change_password"


@pytest.mark.parametrize("two_factor", [False, True])
def test_weak_password_changes_first(two_factor: bool) -> None:
    assert next_step(practice(two_factor), credential(strength=59), 1, NOW) == "change_password"
    assert next_step(practice(two_factor), credential(strength=60), 1, NOW) != "change_password"


@pytest.mark.parametrize("two_factor", [False, True])
def test_expired_password_changes_first(two_factor: bool) -> None:
    old = credential(changed_at=NOW - timedelta(days=90))
    assert next_step(practice(two_factor), old, 1, NOW) == "change_password"
    assert next_step(practice(two_factor, NEVER), old, 1, NOW) != "change_password"


def test_unknown_change_time_is_not_expired() -> None:
    assert next_step(practice(False), credential(changed_at=None), 0, NOW) == "done"


def test_enrol_when_two_factor_required_and_no_strong_factor() -> None:
    assert next_step(practice(True), credential(), 0, NOW) == "enrol"


@pytest.mark.parametrize("strong_factors", [1, 2])
def test_second_factor_when_enrolled(strong_factors: int) -> None:
    assert next_step(practice(True), credential(), strong_factors, NOW) == "second_factor"


@pytest.mark.parametrize("strong_factors", [0, 1])
def test_done_without_two_factor(strong_factors: int) -> None:
    assert next_step(practice(False), credential(), strong_factors, NOW) == "done"
