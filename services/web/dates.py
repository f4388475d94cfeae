"""A date asked as day, month and year in three fields (the GOV.UK / NL Design System pattern:
easier to type and to read aloud than a browser's date picker) — pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

PARTS = ("day", "month", "year")


def from_parts(form: Mapping[str, object], name: str) -> str:
    """``{name}_day``/``_month``/``_year`` as ISO 8601 (``1980-05-17``); as typed, year first
    (``80-5-17``), when it is no date, for the service to refuse; ``form[name]`` when the form
    has no parts (a client posting ISO); empty when nothing was given."""
    parts = [str(form.get(f"{name}_{part}", "")).strip() for part in PARTS]
    if not any(parts):
        return str(form.get(name, "")).strip()
    day, month, year = parts
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return f"{year}-{month}-{day}"


def to_parts(iso: str) -> dict[str, str]:
    """An ISO date's parts for the fields (empty for anything else), without leading zeros."""
    try:
        found = date.fromisoformat(iso)
    except ValueError:
        return dict.fromkeys(PARTS, "")
    return {"day": str(found.day), "month": str(found.month), "year": str(found.year)}
