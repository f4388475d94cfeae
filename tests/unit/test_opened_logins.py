"""The logins a process keeps as their password step read them back: each handed out once, at
most ``size`` kept (the oldest forgotten first), none when the size is 0."""

from __future__ import annotations

from datetime import UTC, datetime

from services.auth.adapters.repository import SecondStep
from services.auth.domain.records import Employee, Practice
from services.auth.use_cases.opened_logins import OpenedLogins
from shared.events import PasswordPolicy


def step(login_id: str) -> SecondStep:
    practice = Practice(id="fysio", name="Fysio", two_factor_required=True, policy=PasswordPolicy())
    employee = Employee(
        practice="fysio", id="e1", username="anna", name="Anna", rights_group=1, in_service=True
    )
    return SecondStep(
        login_id=login_id,
        stage="second_factor",
        practice=practice,
        employee=employee,
        email=None,
        factors=[],
        failures=[datetime(2026, 12, 6, tzinfo=UTC)],
        reset_at=None,
        seen=b"hash",
    )


def test_a_login_is_handed_out_once() -> None:
    opened = OpenedLogins(4)
    kept = step("l1")
    opened.keep(kept)
    assert opened.take("l1") is kept
    assert opened.take("l1") is None
    assert opened.take("never opened") is None


def test_at_most_size_are_kept_the_oldest_forgotten_first() -> None:
    opened = OpenedLogins(2)
    for login_id in ("l1", "l2", "l3"):
        opened.keep(step(login_id))
    assert len(opened) == 2
    assert opened.take("l1") is None
    assert opened.take("l2") is not None and opened.take("l3") is not None


def test_size_zero_keeps_none() -> None:
    opened = OpenedLogins(0)
    opened.keep(step("l1"))
    assert len(opened) == 0 and opened.take("l1") is None
