"""Delivery rules — pure: which failures are worth retrying, when to retry, rate limits."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from shared.events import MAX_BACKCHANNEL_URI

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class DeliveryError(Exception):
    """A failed attempt. ``transient`` ones are retried; ``reason`` is a stable short code."""

    def __init__(
        self, reason: str, detail: str, transient: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.transient = transient
        #: Seconds the other side asked us to wait (``Retry-After``), if it said.
        self.retry_after = retry_after


def transient(reason: str, detail: str, retry_after: float | None = None) -> DeliveryError:
    return DeliveryError(reason, detail, True, retry_after)


def permanent(reason: str, detail: str) -> DeliveryError:
    return DeliveryError(reason, detail, False)


def check_recipient(channel: str, recipient: str) -> None:
    if channel == "backchannel":
        if not backchannel_uri(recipient):
            raise permanent("invalid-recipient", "not an absolute http(s) URI without fragment")
        return
    pattern = _EMAIL if channel == "email" else _E164
    if not pattern.match(recipient):
        raise permanent("invalid-recipient", f"not a valid {channel} recipient")


def backchannel_uri(uri: str) -> bool:
    """A back-channel logout URI (Back-Channel Logout 1.0 §2.2): absolute ``https`` or
    ``http`` (loopback and local deployments; production clients use https) with a host, no
    fragment, no whitespace or control characters."""
    if len(uri) > MAX_BACKCHANNEL_URI or "#" in uri:
        return False
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in uri):
        return False
    try:
        parts = urlsplit(uri)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok


def uri_host(uri: str) -> str:
    """Only the host of a URI, for logs (its path or query may carry something of the
    client's)."""
    try:
        return urlsplit(uri).hostname or "?"
    except ValueError:
        return "?"


def backchannel_status(status: int, retry_after: float | None) -> DeliveryError | None:
    """What a client's answer to a logout token means (Back-Channel Logout 1.0 §2.8): 200 or
    204 delivered (None); 5xx, 408 and 429 worth trying again (honouring ``Retry-After``);
    anything else — 400 (the client refused the token), another 4xx, a redirect (never
    followed), another 2xx — given up on."""
    if status in (200, 204):
        return None
    reason = f"backchannel-{status}"
    if status >= 500 or status in (408, 429):
        return transient(reason, f"the client answered {status}", retry_after)
    return permanent(reason, f"the client answered {status}")


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3) as seconds from ``now``: delay-seconds or an
    HTTP-date; None if absent or not understood."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        return None
    return max((at - now).total_seconds(), 0.0)


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
        """Seconds until the next attempt after ``attempts`` attempts, or None to give up. A
        ``Retry-After`` the other side sent is honoured within the backoff: the wait is at
        least that long, but never longer than ``max_seconds``."""
        if not error.transient or attempts >= self.max_attempts:
            return None
        wait = backoff(attempts, self.base_seconds, self.max_seconds)
        if error.retry_after is not None:
            wait = min(max(wait, error.retry_after), self.max_seconds)
        return wait


def failure_reason(error: DeliveryError) -> str:
    """Why a message was given up on: a transient reason says it ran out of attempts."""
    return error.reason if not error.transient else f"gave-up:{error.reason}"
