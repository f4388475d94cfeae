"""Per-field last writer wins: how a replicated record converges (an LWW map, a CRDT).

Pure: no I/O. A *stamp* is ``(version, updated_at, zone)``, compared in that order. A record
carries a stamp per field and a stamp of its own, the greatest stamp it has seen (at least the
greatest of its fields'). Merging two states takes, per field, the value with the greater stamp,
and the greater record stamp. So a concurrent edit of one field in one zone and of another field
in the other zone both survive: an administrator's ``in_service: false`` is not undone by an
e-mail address changed meanwhile elsewhere.

A writer stamps only the fields it changes, with ``(record version + 1, now, zone)``: greater
than every stamp it has seen. Two writes of the *same* field from the same base are a real
conflict: the later time, then the zone name, wins — the same in both zones.

The merge is commutative, associative and idempotent, so any order and any duplication of the
same states gives the same result (``tests/unit/test_merge_properties.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import reduce
from typing import Any, NamedTuple


class Stamp(NamedTuple):
    """When a value was written: the greater stamp wins (version, then time, then zone)."""

    version: int
    updated_at: datetime
    zone: str


@dataclass(frozen=True)
class Record:
    """A replicated record's state: its values, one stamp per value and its own stamp."""

    values: Mapping[str, Any]
    stamps: Mapping[str, Stamp]
    stamp: Stamp
    #: Fields whose stamp differs from the record's (what events and rows carry).
    own: Mapping[str, Stamp] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "own", {f: s for f, s in self.stamps.items() if s != self.stamp})


def record(
    values: Mapping[str, Any], stamp: Stamp, stamps: Mapping[str, Stamp] | None = None
) -> Record:
    """A record from a whole state: a field without a stamp of its own carries ``stamp`` (so a
    state written before per-field stamps counts as written at once)."""
    own = stamps or {}
    per_field = {name: own.get(name, stamp) for name in values}
    return Record(dict(values), per_field, max([stamp, *per_field.values()]))


def _rank(value: Any) -> str:
    """A total order of values, for two different values under one stamp (which no honest
    writer makes): the merge must still be the same in every zone."""

    def plain(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat()
        if isinstance(v, date):
            return v.isoformat()
        raise TypeError(type(v).__name__)

    return json.dumps(value, sort_keys=True, default=plain)


def merge(a: Record, b: Record) -> Record:
    """Per field, the value with the greater stamp; the greater record stamp."""
    values: dict[str, Any] = {}
    stamps: dict[str, Stamp] = {}
    for name in sorted(a.values.keys() | b.values.keys()):
        candidates = [r for r in (a, b) if name in r.values]
        best = max(candidates, key=lambda r: (r.stamps[name], _rank(r.values[name])))
        values[name] = best.values[name]
        stamps[name] = best.stamps[name]
    return Record(values, stamps, max(a.stamp, b.stamp))


def merge_all(records: Iterable[Record]) -> Record:
    return reduce(merge, records)


def edit(
    current: Record | None, values: Mapping[str, Any], updated_at: datetime, zone: str
) -> Record:
    """A writer's new state: ``values`` (some or all fields) over ``current``. Only the fields
    whose value changes get the new stamp ``(current version + 1, updated_at, zone)``; the others
    keep theirs. Nothing changed: ``current`` itself."""
    new = Stamp((current.stamp.version if current else 0) + 1, updated_at, zone)
    if current is None:
        return record(values, new)
    changed = {
        name: value
        for name, value in values.items()
        if name not in current.values or current.values[name] != value
    }
    if not changed:
        return current
    return Record(
        {**current.values, **changed},
        {**current.stamps, **dict.fromkeys(changed, new)},
        new,
    )


def stamp_json(stamp: Stamp) -> dict[str, Any]:
    return {
        "version": stamp.version,
        "updated_at": stamp.updated_at.isoformat(),
        "zone": stamp.zone,
    }


def stamp_from_json(value: Mapping[str, Any]) -> Stamp:
    at = value["updated_at"]
    return Stamp(
        int(value["version"]),
        at if isinstance(at, datetime) else datetime.fromisoformat(str(at)),
        str(value["zone"]),
    )
