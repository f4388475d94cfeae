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

Two kinds of field are merged per element rather than as one value (:func:`expand` makes
their element keys, :func:`collapse` the field back):

* a *set* (a certificate's ``grants``): key ``field:element`` holds ``True`` (in the set) or
  ``False`` (removed: a tombstone, kept), so a removal in one zone and an addition of another
  element in the other both survive (an LWW-element-set). The key ``field`` itself keeps the
  stamp of the last write of the *whole* set (an older writer's list): an element without a
  key of its own counts as absent at that stamp, so such a whole list still replaces the set.
* a *map* (a practice's ``password_policy``): key ``field.name`` holds one setting.

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
    #: Fields whose stamp differs from the record's (what events and rows carry of plain
    #: fields; with sets and maps, :func:`collapse` says what they carry).
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


#: Separates a set field's name from an element (``grants:piet01``).
ELEMENT = ":"
#: Separates a map field's name from a setting (``password_policy.max_attempts``).
SETTING = "."

_Entry = tuple[Stamp, Any]


def _set_of(name: str) -> str | None:
    """The set field whose element ``name`` is, if it is one."""
    owner, sep, _ = name.partition(ELEMENT)
    return owner if sep else None


def _key(entry: _Entry) -> tuple[Stamp, str]:
    return entry[0], _rank(entry[1])


def _entries(r: Record, name: str) -> list[_Entry]:
    """``name``'s value in ``r``: its own, or for a set's element without a key of its own,
    absent as of the set's whole-list stamp."""
    if name in r.values:
        return [(r.stamps[name], r.values[name])]
    owner = _set_of(name)
    if owner is not None and owner in r.values:
        return [(r.stamps[owner], False)]
    return []


def _implied(r: Record, name: str) -> bool:
    """Whether a set element's entry says no more than its set's whole-list stamp does."""
    owner = _set_of(name)
    if owner is None or owner not in r.values:
        return False
    return _key((r.stamps[name], r.values[name])) <= _key((r.stamps[owner], False))


def _normal(r: Record) -> Record:
    """``r`` without the set elements its sets' whole-list stamps imply (one form per state)."""
    kept = [name for name in r.values if not _implied(r, name)]
    if len(kept) == len(r.values):
        return r
    return Record({n: r.values[n] for n in kept}, {n: r.stamps[n] for n in kept}, r.stamp)


def merge(a: Record, b: Record) -> Record:
    """Per field (and set element), the value with the greater stamp; the greater record
    stamp."""
    values: dict[str, Any] = {}
    stamps: dict[str, Stamp] = {}
    for name in sorted(a.values.keys() | b.values.keys()):
        stamp, value = max([*_entries(a, name), *_entries(b, name)], key=_key)
        values[name] = value
        stamps[name] = stamp
    return _normal(Record(values, stamps, max(a.stamp, b.stamp)))


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
        if [value] != [v for _, v in _entries(current, name)]
    }
    if not changed:
        return current
    return Record(
        {**current.values, **changed},
        {**current.stamps, **dict.fromkeys(changed, new)},
        new,
    )


def expand(
    values: Mapping[str, Any],
    stamp: Stamp,
    stamps: Mapping[str, Stamp] | None = None,
    sets: Iterable[str] = (),
    maps: Iterable[str] = (),
) -> Record:
    """A record from a whole state whose ``sets`` (lists) and ``maps`` (dicts) are merged per
    element. ``stamps`` may name elements (``grants:piet01``, ``password_policy.history``); an
    element without a stamp of its own carries its field's (a state written before per-element
    stamps: the whole field at once). A set's element stamped but not listed is removed."""
    own = dict(stamps or {})
    flat: dict[str, Any] = {}
    flat_stamps: dict[str, Stamp] = {}
    for name, value in values.items():
        field_stamp = own.get(name, stamp)
        if name in sets:
            listed = {str(e) for e in value}
            flat[name], flat_stamps[name] = True, field_stamp
            prefix = name + ELEMENT
            for element in listed:
                flat[prefix + element] = True
                flat_stamps[prefix + element] = own.get(prefix + element, field_stamp)
            for key, s in own.items():
                if key.startswith(prefix) and key[len(prefix) :] not in listed:
                    flat[key], flat_stamps[key] = False, s
        elif name in maps:
            for setting, v in value.items():
                key = f"{name}{SETTING}{setting}"
                flat[key], flat_stamps[key] = v, own.get(key, field_stamp)
        else:
            flat[name], flat_stamps[name] = value, field_stamp
    return _normal(Record(flat, flat_stamps, max([stamp, *flat_stamps.values()])))


def collapse(
    state: Record, sets: Iterable[str] = (), maps: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str, Stamp]]:
    """A record's whole state (sets as sorted lists, maps as dicts) and the stamps that differ
    from what :func:`expand` would assume: ``expand(*collapse(r), …) == r``."""
    sets, maps = frozenset(sets), frozenset(maps)
    values: dict[str, Any] = {name: [] for name in sets if name in state.values}
    values.update({name: {} for name in maps})
    own: dict[str, Stamp] = {}
    for name, value in state.values.items():
        stamp = state.stamps[name]
        owner = _set_of(name)
        head, sep, setting = name.partition(SETTING)
        if owner in sets:
            base = state.stamps.get(owner, state.stamp)
            if value:
                values[owner].append(name[len(owner) + 1 :])
            if not value or stamp != base:
                own[name] = stamp
        elif sep and head in maps:
            values[head][setting] = value
            if stamp != state.stamp:
                own[name] = stamp
        elif name in sets:
            if stamp != state.stamp:
                own[name] = stamp
        else:
            values[name] = value
            if stamp != state.stamp:
                own[name] = stamp
    for name in sets & values.keys():
        values[name].sort()
    return values, own


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
