"""Password expiry and policy rules — pure, no I/O. Strength 0-100 is
:func:`shared.password_strength.strength` (the web front end previews it too)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import PasswordPolicy
from shared.password_strength import strength as strength  # the rule auth enforces

MAX_PASSWORD_LENGTH = 256


def is_expired(policy: PasswordPolicy, changed_at: datetime, now: datetime) -> bool:
    if policy.change_after_days == 0:
        return False
    return now >= changed_at + timedelta(days=policy.change_after_days)


def expires_at(policy: PasswordPolicy, changed_at: datetime) -> datetime | None:
    if policy.change_after_days == 0:
        return None
    return changed_at + timedelta(days=policy.change_after_days)


def must_change(
    policy: PasswordPolicy, strength_: int, changed_at: datetime, temporary: bool, now: datetime
) -> bool:
    """A login must change the password first: temporary, weaker than policy, or expired."""
    return temporary or strength_ < policy.min_strength or is_expired(policy, changed_at, now)


def is_dormant(policy: PasswordPolicy, last_login: datetime | None, now: datetime) -> bool:
    """Disabled for not logging in during ``disable_after_days`` (0 = never)."""
    if policy.disable_after_days == 0 or last_login is None:
        return False
    return now >= last_login + timedelta(days=policy.disable_after_days)
