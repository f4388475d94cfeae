"""Which second factors a login offers, and how addresses are masked — pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.auth.domain.factors import (
    Factor,
    expires_minutes,
    mask,
    offered,
    retry_after,
    strong_count,
    totp_step_fresh,
    usable,
)


def test_offered_strongest_first_recovery_last_and_nothing_without_a_strong_factor() -> None:
    assert offered(["recovery", "email", "totp", "sms", "totp"]) == [
        "totp",
        "sms",
        "email",
        "recovery",
    ]
    assert offered(["email", "sms", "recovery"]) == []
    assert offered([]) == []
    assert strong_count(["totp", "totp", "sms"]) == 2


def test_certificate_fallback_is_offered_last_and_never_alone() -> None:
    assert offered(["recovery", "totp"], fallback=True) == ["totp", "recovery", "certificate"]
    assert offered(["sms"], fallback=True) == [], "without a strong factor the login enrols"


def test_weak_factors_usable_only_beside_a_strong_one() -> None:
    email = Factor("e1", "email", "sealed", 1)
    totp = Factor("t1", "totp", "sealed", 1)
    assert usable([email], "email") == []
    assert usable([email, totp], "email") == [email]
    assert usable([email, totp], "sms") == []
    assert usable([Factor("r", "recovery", "s", 1)], "recovery") != []


def test_masking() -> None:
    assert mask("anna@fysio.example") == "a***@fysio.example"
    assert mask("+31612345678") == "+31*******78"
    assert mask("+3161") == "*****"


def test_minutes_and_retry_after() -> None:
    assert expires_minutes(300) == 5 and expires_minutes(1) == 1
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after(now - timedelta(seconds=100), 900, now) == 801
    assert retry_after(now - timedelta(seconds=1000), 900, now) == 1


def test_totp_steps_only_go_forward() -> None:
    assert totp_step_fresh(100, None), "nothing used yet"
    assert totp_step_fresh(101, 100)
    assert not totp_step_fresh(100, 100), "the last used step itself"
    assert not totp_step_fresh(99, 100), "a step behind, even one never used"
