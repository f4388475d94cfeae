"""Lockout after the policy's maximum failures, for the policy's lockout time — pure.

Failures are recorded per zone and replicated; the state is computed from the union of every
zone's failures after the latest reset (a successful login), so the zones agree without
coordination. Failures that arrive while locked do not extend the lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.events import PasswordPolicy


@dataclass(frozen=True)
class LockState:
    failures: int
    locked_until: datetime | None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def lock_state(
    failures: Iterable[datetime],
    reset_at: datetime | None,
    policy: PasswordPolicy,
    now: datetime,
) -> LockState:
    count = 0
    locked_until: datetime | None = None
    lockout = timedelta(seconds=policy.lockout_seconds)
    for at in sorted(failures):
        if reset_at is not None and at <= reset_at:
            continue
        if locked_until is not None:
            if at < locked_until:
                continue
            count, locked_until = 0, None
        count += 1
        if count >= policy.max_attempts:
            locked_until = at + lockout
    if locked_until is not None and now >= locked_until:
        return LockState(0, None)
    return LockState(count, locked_until)


def locks(
    settled: Iterable[datetime],
    failure: datetime,
    reset_at: datetime | None,
    policy: PasswordPolicy,
) -> bool:
    """Whether ``failure``, added to the ``settled`` failures, is the one that locks the
    account (it was not locked before): so that one lock is announced once."""
    settled = list(settled)
    before = lock_state(settled, reset_at, policy, failure)
    after = lock_state([*settled, failure], reset_at, policy, failure)
    return after.locked(failure) and not before.locked(failure)
