"""Pure delivery rules of the notifier: backoff, recipients, rate limits, SMTP classification."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.adapters.email import _by_code
from services.notifier.domain.delivery import (
    DeliveryError,
    RateLimit,
    RetryPolicy,
    backoff,
    check_recipient,
    failure_reason,
    permanent,
    transient,
)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 30.0)]:
        delays = [backoff(attempt, 1.0, 30.0, rng) for _ in range(200)]
        assert min(delays) >= ceiling / 2 and max(delays) <= ceiling
        assert len(set(delays)) > 100, "jittered, not a fixed delay"


@pytest.mark.parametrize(
    ("channel", "recipient", "ok"),
    [
        ("email", "piet@example.nl", True),
        ("email", "piet@", False),
        ("email", "not an address", False),
        ("sms", "+31612345678", True),
        ("sms", "0612345678", False),
        ("sms", "+3161234", False),
    ],
)
def test_recipients_are_checked_per_channel(channel: str, recipient: str, ok: bool) -> None:
    if ok:
        check_recipient(channel, recipient)
    else:
        with pytest.raises(DeliveryError) as info:
            check_recipient(channel, recipient)
        assert info.value.reason == "invalid-recipient" and not info.value.transient


def test_rate_limit_counts_within_the_window() -> None:
    limit = RateLimit(3, timedelta(minutes=15))
    assert limit.allows(0) and limit.allows(2) and not limit.allows(3)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert limit.since(now) == datetime(2026, 11, 23, 11, 45, tzinfo=UTC)


def test_smtp_codes_4xx_are_transient_5xx_permanent() -> None:
    assert _by_code(451, "later").transient and _by_code(421, "busy").transient
    assert not _by_code(550, "no such user").transient
    assert _by_code(552, "x").reason == "smtp-552"


def test_transient_failures_are_retried_until_the_last_attempt_permanent_ones_never() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=1.0, max_seconds=30.0)
    later = transient("smtp-451", "later")
    first = policy.delay(later, 1)
    assert first is not None and 0.5 <= first <= 1.0
    assert policy.delay(later, 3) is None
    assert policy.delay(permanent("smtp-550", "no such user"), 1) is None
    assert failure_reason(later) == "gave-up:smtp-451"
    assert failure_reason(permanent("smtp-550", "x")) == "smtp-550"
