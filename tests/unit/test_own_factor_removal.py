"""Which of one's own factors may go: never the last strong one (an authenticator app or a
passkey), any weak one."""

from __future__ import annotations

from datetime import UTC, datetime

from services.enrolment.domain.records import Factor
from services.enrolment.factors.removal import leaves_no_strong


def factor(kind: str, n: int = 1) -> Factor:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Factor("fysio", f"{kind}.{n}", "jan01", kind, "sealed", True, at, None, 1)


def test_the_last_strong_factor_stays_and_any_weak_one_may_go() -> None:
    app, sms, recovery = factor("totp"), factor("sms"), factor("recovery")
    assert leaves_no_strong(app, [app, sms, recovery])
    assert not leaves_no_strong(sms, [app, sms, recovery])
    assert not leaves_no_strong(recovery, [app, recovery])


def test_a_passkey_or_a_second_passkey_keeps_a_strong_factor() -> None:
    app, key, other = factor("totp"), factor("passkey"), factor("passkey", 2)
    assert not leaves_no_strong(app, [app, key])
    assert not leaves_no_strong(key, [app, key])
    assert not leaves_no_strong(key, [key, other])
    assert leaves_no_strong(key, [key])
