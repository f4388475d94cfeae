"""What an event from the bus may claim (DESIGN §5): a time no later than now plus the
allowed skew, a TOTP step within ±1 of its own time, a version no further than a bound past
the stored one. An event beyond them is dead-lettered with its reason, whoever wrote it: the
tag (:mod:`shared.bus_tags`) says a record is Tweestap's, the bounds that even Tweestap's own
writer (a zone whose clock runs ahead, a bug) cannot push state out of reach.

The consumer applies the envelope's own bounds (its ``time``) and sets the bounds of the
event being applied (:func:`applying`) for the shared mechanisms below it: a replicated
record's stamps are checked where every record merges (:class:`shared.merged_rows.MergedTable`),
and handlers check the fields only they know (a TOTP step, a cutoff) with :func:`current`.
Outside a consumer (a service's own writes) nothing is checked: those values are the
service's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.events import InvalidEvent, utcnow
from shared.merge import Record
from shared.otp import time_step
from shared.settings import Settings


@dataclass(frozen=True)
class EventBounds:
    max_skew: timedelta
    max_version_leap: int

    @classmethod
    def from_settings(cls, settings: Settings) -> EventBounds:
        return cls(
            timedelta(seconds=settings.event_max_skew_seconds), settings.event_max_version_leap
        )

    def check_time(self, what: str, at: datetime, now: datetime | None = None) -> None:
        """Refuse ``at`` beyond now plus the skew (``what`` names the field)."""
        now = now or utcnow()
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        if moment > now + self.max_skew:
            ahead = (moment - now).total_seconds()
            raise InvalidEvent(
                f"{what} lies {ahead:.0f} s in the future (at most "
                f"{self.max_skew.total_seconds():.0f} s of clock skew are allowed)"
            )

    @staticmethod
    def check_step(step: int, at: datetime, earlier: bool = False) -> None:
        """Refuse a TOTP step outside ±1 of the step of ``at`` (the event's own time, itself
        bounded): a code is only ever accepted within one step of the verifying clock. With
        ``earlier``, any earlier step is allowed: only a step ahead of its time can harm
        (steps go only forward, so one far ahead would refuse every code until then)."""
        expected = time_step(at)
        if step - expected > 1 or (not earlier and expected - step > 1):
            raise InvalidEvent(
                f"TOTP step {step} is not within 1 of the step of the event's time ({expected})"
            )

    def check_record(self, incoming: Record, stored: Record | None) -> None:
        """Refuse a replicated record whose stamps lie in the future or whose version leaps
        more than the bound past the stored one."""
        base = stored.stamp.version if stored is not None else 0
        if incoming.stamp.version > base + self.max_version_leap:
            raise InvalidEvent(
                f"version {incoming.stamp.version} leaps past the stored version {base} by more "
                f"than {self.max_version_leap}"
            )
        now = utcnow()
        self.check_time("the record's stamp", incoming.stamp.updated_at, now)
        for name, stamp in incoming.own.items():
            self.check_time(f"the stamp of {name}", stamp.updated_at, now)


def check_step(step: int, at: datetime, earlier: bool = False) -> None:
    """:meth:`EventBounds.check_step` for the event being applied (nothing outside a
    consumer)."""
    if current() is not None:
        EventBounds.check_step(step, at, earlier)


def check_time(what: str, at: datetime) -> None:
    """:meth:`EventBounds.check_time` with the bounds of the event being applied (nothing
    outside a consumer)."""
    limits = current()
    if limits is not None:
        limits.check_time(what, at)


_APPLYING: ContextVar[EventBounds | None] = ContextVar("event_bounds", default=None)


@contextmanager
def applying(bounds: EventBounds) -> Iterator[None]:
    """The bounds of the event a consumer applies, for everything its handler calls."""
    token = _APPLYING.set(bounds)
    try:
        yield
    finally:
        _APPLYING.reset(token)


def current() -> EventBounds | None:
    """The bounds of the event being applied; None outside a consumer."""
    return _APPLYING.get()
