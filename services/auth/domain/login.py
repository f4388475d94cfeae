"""Which step a login takes next — pure, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from services.auth.domain import passwords
from services.auth.domain.records import Credential, Practice

Next = Literal["change_password", "enrol", "second_factor", "done"]


def next_step(
    practice: Practice,
    credential: Credential,
    strong_factors: int,
    now: datetime,
    second_factor: bool = False,
) -> Next:
    """After a correct password: change it first if it must be; then a second factor if the
    practice requires one or the login asked for one (``second_factor``; enrol first if the
    employee has none); else the login is done."""
    changed_at = credential.changed_at or now
    if passwords.must_change(
        practice.policy, credential.strength, changed_at, credential.must_change, now
    ):
        return "change_password"
    if practice.two_factor_required or second_factor:
        return "second_factor" if strong_factors else "enrol"
    return "done"
