"""Times as a person in the Netherlands reads them: ``28-11-2026 14:32``, Europe/Amsterdam."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def clock_time(moment: datetime) -> str:
    """``14:32`` in Europe/Amsterdam (a time later today, as a message names it)."""
    return moment.astimezone(AMSTERDAM).strftime("%H:%M")


def local_time(value: object) -> str:
    """An ISO 8601 time (or a datetime) as ``dd-mm-jjjj hh:mm`` in Europe/Amsterdam; empty for
    none, and the text as it is when it is not a time."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")
