"""Lockout state from the union of every zone's failures (services.auth.domain.lockout)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.auth.consumers import checked_against
from services.auth.domain.lockout import LockState, lock_state, locks
from shared.events import Envelope, PasswordPolicy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = PasswordPolicy(max_attempts=5, lockout_seconds=1800)
LOCKOUT = timedelta(seconds=1800)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_below_max_is_not_locked() -> None:
    failures = [at(i) for i in range(4)]
    state = lock_state(failures, None, POLICY, now=at(10))
    assert state == LockState(failures=4, locked_until=None)
    assert not state.locked(at(10))


def test_no_failures_is_not_locked() -> None:
    assert lock_state([], None, POLICY, now=T0) == LockState(0, None)


def test_at_max_locked_until_last_failure_plus_lockout() -> None:
    failures = [at(0), at(10), at(20), at(30), at(40)]
    state = lock_state(failures, None, POLICY, now=at(41))
    assert state.failures == 5
    assert state.locked_until == at(40) + LOCKOUT
    assert state.locked(at(41))
    assert state.locked(at(40) + LOCKOUT - timedelta(seconds=1))
    assert not state.locked(at(40) + LOCKOUT)


def test_max_attempts_follows_the_policy() -> None:
    policy = PasswordPolicy(max_attempts=3, lockout_seconds=60)
    state = lock_state([at(0), at(1), at(2)], None, policy, now=at(3))
    assert state.locked_until == at(2) + timedelta(seconds=60)


def test_lock_expires_and_counter_restarts_at_zero() -> None:
    failures = [at(i) for i in range(5)]
    end = at(4) + LOCKOUT
    assert lock_state(failures, None, POLICY, now=end - timedelta(seconds=1)).locked_until == end
    expired = lock_state(failures, None, POLICY, now=end)
    assert expired == LockState(0, None)
    assert not expired.locked(end)
    # After the lock: counting starts from zero, so four new failures do not lock again ...
    later = [end + timedelta(seconds=i) for i in range(4)]
    state = lock_state(failures + later, None, POLICY, now=end + timedelta(seconds=10))
    assert state == LockState(4, None)
    # ... and the fifth does, for the full lockout time after it.
    fifth = end + timedelta(seconds=4)
    state = lock_state([*failures, *later, fifth], None, POLICY, now=fifth)
    assert state == LockState(5, fifth + LOCKOUT)


def test_failures_at_or_before_reset_are_ignored() -> None:
    failures = [at(i) for i in range(5)]
    # A successful login after the fourth failure: only the fifth counts.
    state = lock_state(failures, reset_at=at(3), policy=POLICY, now=at(5))
    assert state == LockState(1, None)
    # A reset exactly at a failure's time also covers that failure.
    state = lock_state(failures, reset_at=at(4), policy=POLICY, now=at(5))
    assert state == LockState(0, None)


def test_reset_after_lock_unlocks() -> None:
    failures = [at(i) for i in range(5)]
    assert lock_state(failures, None, POLICY, now=at(5)).locked(at(5))
    state = lock_state(failures, reset_at=at(100), policy=POLICY, now=at(101))
    assert state == LockState(0, None)


def test_failures_during_lock_do_not_extend_it() -> None:
    failures = [at(i) for i in range(5)]
    during = [at(60), at(600), at(1800)]
    state = lock_state(failures + during, None, POLICY, now=at(1801))
    assert state.locked_until == at(4) + LOCKOUT
    assert state.failures == 5
    # Once the original lock is over, the attempts made during it do not count either.
    state = lock_state(failures + during, None, POLICY, now=at(4) + LOCKOUT)
    assert state == LockState(0, None)


def test_failure_exactly_at_lock_end_starts_a_new_count() -> None:
    failures = [at(i) for i in range(5)]
    end = at(4) + LOCKOUT
    state = lock_state([*failures, end], None, POLICY, now=end)
    assert state == LockState(1, None)


def test_two_zones_interleaved_lock_like_one_zone() -> None:
    zone_a = [at(0), at(20), at(40)]
    zone_b = [at(10), at(30)]
    union = lock_state(zone_a + zone_b, None, POLICY, now=at(41))
    single = lock_state(sorted(zone_a + zone_b), None, POLICY, now=at(41))
    assert union == single
    assert union.locked_until == at(40) + LOCKOUT
    # Neither zone on its own would have locked.
    assert not lock_state(zone_a, None, POLICY, now=at(41)).locked(at(41))
    assert not lock_state(zone_b, None, POLICY, now=at(41)).locked(at(41))


def test_two_zones_lock_while_a_zone_keeps_failing() -> None:
    # Zone b's failures arrive (replicated) during the lock zone a's failures caused; they
    # must be ignored whatever order the two lists come in.
    zone_a = [at(i) for i in range(5)]
    zone_b = [at(100), at(200), at(300), at(400), at(500)]
    one = lock_state(zone_a + zone_b, None, POLICY, now=at(501))
    other = lock_state(zone_b + zone_a, None, POLICY, now=at(501))
    assert one == other == LockState(5, at(4) + LOCKOUT)


def test_unsorted_input_is_sorted_first() -> None:
    ordered = [at(0), at(5), at(10), at(2000), at(2001)]
    shuffled = [at(2001), at(10), at(0), at(2000), at(5)]
    assert lock_state(shuffled, None, POLICY, now=at(2002)) == lock_state(
        ordered, None, POLICY, now=at(2002)
    )
    # The lock is placed after the fifth failure in time, not the last one in the list.
    five = [at(4), at(0), at(3), at(1), at(2)]
    assert lock_state(five, None, POLICY, now=at(5)).locked_until == at(4) + LOCKOUT


def test_accepts_a_generator() -> None:
    state = lock_state((at(i) for i in range(5)), None, POLICY, now=at(5))
    assert state.locked_until == at(4) + LOCKOUT


def test_only_the_failure_that_locks_announces_the_lock() -> None:
    four = [at(i) for i in range(4)]
    assert not locks(four[:3], at(3), None, POLICY), "the fourth failure does not lock"
    assert locks(four, at(4), None, POLICY), "the fifth locks"
    # Failures that arrive while locked do not lock again (one account.locked per lock).
    assert not locks([*four, at(4)], at(5), None, POLICY)
    # After the lock expired, the count restarts: the fifth failure after it locks anew.
    later = [at(4) + LOCKOUT + timedelta(seconds=i) for i in range(4)]
    assert not locks([*four, at(4), *later[:3]], later[3], None, POLICY)
    assert locks([*four, at(4), *later], later[3] + timedelta(seconds=1), None, POLICY)


def test_failures_before_a_reset_do_not_lock() -> None:
    four = [at(i) for i in range(4)]
    assert not locks(four, at(10), reset_at=at(5), policy=POLICY)


def _failed(data: dict[str, object]) -> Envelope:
    return Envelope(
        type="login.failed",
        source="auth@b",
        time=T0,
        practice="fysio",
        subject="user:anna",
        data={"username": "anna", **data},
    )


def test_a_replicated_failure_names_its_credential_only_from_before_the_guess() -> None:
    """``against`` of another zone's ``login.failed``: a credential from before the guess; one
    from after it (no zone checks a guess against its future), not a time, or a time without
    a zone counts whatever replaces it (None: the safe side)."""
    assert checked_against(_failed({"against": (T0 - LOCKOUT).isoformat()})) == T0 - LOCKOUT
    assert checked_against(_failed({"against": T0.isoformat()})) == T0
    assert checked_against(_failed({"against": (T0 + LOCKOUT).isoformat()})) is None
    assert checked_against(_failed({"against": "yesterday"})) is None
    assert checked_against(_failed({"against": "2026-03-02T08:00:00"})) is None
    assert checked_against(_failed({"against": 1234})) is None
    assert checked_against(_failed({})) is None
