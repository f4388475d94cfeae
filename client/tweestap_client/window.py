"""The sliding window: when to renew, when to retry, when a token may no longer be handed out.

Pure: every time is a float on the local clock (seconds), passed in; no I/O, no sleeping.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Window:
    """One token's times on the local clock (server times corrected by the estimated skew)."""

    issued_at: float
    renew_after: float
    expires_at: float

    @classmethod
    def from_server(cls, iat: float, renew_after: float, exp: float, skew: float) -> Window:
        """``skew`` is local minus server time (see :func:`estimate_skew`)."""
        return cls(iat + skew, renew_after + skew, exp + skew)

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.issued_at

    def usable(self, now: float) -> bool:
        """Never hand out a token at or past its expiry."""
        return now < self.expires_at


def estimate_skew(iat: float, sent_at: float) -> float:
    """Local minus server time. The server stamped ``iat`` after the request left at ``sent_at``,
    so ``sent_at - iat`` is the smaller bound: it puts the local expiry early, never late."""
    return sent_at - iat


@dataclass
class Schedule:
    """When the next renewal attempt is due: at ``renew_after``, then after each failure at
    X/4, X/8 … of the lifetime X later (never less than ``floor``), jittered by ±``jitter``,
    never later than the expiry."""

    window: Window
    floor: float = 5.0
    jitter: float = 0.1
    rand: Callable[[], float] = field(default=random.random)
    failures: int = 0
    next_at: float = 0.0

    def __post_init__(self) -> None:
        self.next_at = self.window.renew_after

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def failed(self, now: float) -> float:
        """Record a failed attempt at ``now``; returns when to try again."""
        self.failures += 1
        delay = max(self.window.lifetime / 2 ** (self.failures + 1), self.floor)
        delay *= 1 + self.jitter * (2 * self.rand() - 1)
        self.next_at = min(now + delay, self.window.expires_at)
        return self.next_at
