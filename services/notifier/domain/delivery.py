"""Delivery rules — pure: which failures are worth retrying, when to retry, rate limits."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class DeliveryError(Exception):
    """A failed attempt. ``transient`` ones are retried; ``reason`` is a stable short code."""

    def __init__(self, reason: str, detail: str, transient: bool) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.transient = transient


def transient(reason: str, detail: str) -> DeliveryError:
    return DeliveryError(reason, detail, True)


def permanent(reason: str, detail: str) -> DeliveryError:
    return DeliveryError(reason, detail, False)


def check_recipient(channel: str, recipient: str) -> None:
    pattern = _EMAIL if channel == "email" else _E164
    if not pattern.match(recipient):
        raise permanent("invalid-recipient", f"not a valid {channel} recipient")


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: uniform in [c/2, c] for c = min(cap, base * 2^(n-1)),
    so that the retries of many messages after one outage spread out."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class RateLimit:
    count: int
    window: timedelta

    def allows(self, recent: int) -> bool:
        """``recent``: messages sent (or being sent) to the recipient within the window."""
        return recent < self.count

    def since(self, now: datetime) -> datetime:
        return now - self.window


@dataclass(frozen=True)
class RetryPolicy:
    """How long a failed message is tried again: a transient failure until ``max_attempts``
    attempts were made, a permanent one never."""

    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, error: DeliveryError, attempts: int) -> float | None:
        """Seconds until the next attempt after ``attempts`` attempts, or None to give up."""
        if not error.transient or attempts >= self.max_attempts:
            return None
        return backoff(attempts, self.base_seconds, self.max_seconds)


def failure_reason(error: DeliveryError) -> str:
    """Why a message was given up on: a transient reason says it ran out of attempts."""
    return error.reason if not error.transient else f"gave-up:{error.reason}"
