"""Replicated rows in PostgreSQL merged field by field (:mod:`shared.merge`).

A table merged this way has its key columns, the merged columns, ``version``, ``updated_at``
and ``zone`` (the record's stamp) and ``stamps jsonb`` (the fields whose stamp differs from the
record's). An upsert locks the row (``SELECT … FOR UPDATE``), merges in Python with the pure
function and writes the result back: one row's merges are serialised, and a replay or an older
state changes nothing. A state from the bus is bounded first (:mod:`shared.bounds`: no stamp in
the future, no version leap past the stored one). Table and column names come from code, never
from input."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared import bounds
from shared.events import Versioned
from shared.merge import (
    ELEMENT,
    SETTING,
    Record,
    Stamp,
    collapse,
    expand,
    merge,
    stamp_from_json,
    stamp_json,
)

#: Columns computed from the merged record and the stored row (None before the first state).
Derive = Callable[[Record, asyncpg.Record | None], Mapping[str, Any]]


@dataclass(frozen=True)
class MergedTable:
    name: str
    key: tuple[str, ...]
    fields: tuple[str, ...]
    #: Fields where NULL means "not known here" rather than a value (an employee's BSN hash,
    #: which host systems cannot compute): such a NULL never replaces a value.
    optional: frozenset[str] = frozenset()
    #: Event field → column, where they differ.
    renames: Mapping[str, str] = field(default_factory=dict)
    #: Columns merged per element: lists (sets) and objects (maps).
    sets: frozenset[str] = frozenset()
    maps: frozenset[str] = frozenset()

    def incoming(
        self, values: Mapping[str, Any], stamp: Stamp, stamps: Mapping[str, Stamp]
    ) -> Record:
        """A state (named by columns) as this table keeps it: only its fields."""
        kept = {
            f: values[f]
            for f in self.fields
            if f in values and not (f in self.optional and values[f] is None)
        }
        return expand(kept, stamp, stamps, self.sets, self.maps)

    def state_of(self, event: Versioned) -> Record:
        """An event's state as this table keeps it."""
        return self.incoming(
            self.column_values(event.values()),
            event.stamp,
            self.column_values(event.field_stamps()),
        )

    def event_state(self, state: Record) -> Record:
        """A stored state named by the event's fields (for :func:`shared.events.stamped`)."""
        back = {column: name for name, column in self.renames.items()}
        return Record(
            {_renamed(f, back): v for f, v in state.values.items()},
            {_renamed(f, back): s for f, s in state.stamps.items()},
            state.stamp,
        )

    def column_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Event field names (and element keys) → this table's columns."""
        return {_renamed(f, self.renames): v for f, v in values.items()}

    def from_row(self, row: asyncpg.Record) -> Record:
        own = {name: stamp_from_json(s) for name, s in (row["stamps"] or {}).items()}
        values = {f: row[f] for f in self.fields if not (f in self.optional and row[f] is None)}
        stamp = Stamp(row["version"], row["updated_at"], row["zone"])
        return expand(values, stamp, own, self.sets, self.maps)

    def _where(self, first: int = 1) -> str:
        return " AND ".join(f"{c} = ${i}" for i, c in enumerate(self.key, first))

    async def load(
        self, conn: asyncpg.Connection, key: Sequence[Any], lock: bool = False
    ) -> Record | None:
        """The stored state (locked until the caller's transaction ends with ``lock``)."""
        row = await self._row(conn, key, lock)
        return self.from_row(row) if row is not None else None

    async def _row(
        self, conn: asyncpg.Connection, key: Sequence[Any], lock: bool
    ) -> asyncpg.Record | None:
        suffix = " FOR UPDATE" if lock else ""
        row: asyncpg.Record | None = await conn.fetchrow(
            f"SELECT * FROM {self.name} WHERE {self._where()}{suffix}",  # noqa: S608
            *key,
        )
        return row

    async def upsert(
        self,
        conn: asyncpg.Connection,
        key: Sequence[Any],
        incoming: Record,
        derive: Derive | None = None,
    ) -> bool:
        """Merge ``incoming`` into the row; True if the row changed. From the bus (a consumer's
        handler), a state beyond the bounds raises :class:`shared.events.InvalidEvent`."""
        limits = bounds.current()
        for _ in range(2):
            row = await self._row(conn, key, lock=True)
            if row is None:
                if limits is not None:
                    limits.check_record(incoming, None)
                if await self._insert(conn, key, incoming, derive):
                    return True
                continue  # inserted concurrently: merge into that row
            current = self.from_row(row)
            if limits is not None:
                limits.check_record(incoming, current)
            merged = merge(current, incoming)
            if merged == current:
                return False
            await self._update(conn, key, merged, {**(derive(merged, row) if derive else {})})
            return True
        raise RuntimeError(f"{self.name} row neither insertable nor found")

    def _columns(self, state: Record, extra: Mapping[str, Any]) -> dict[str, Any]:
        whole, stamps = collapse(state, self.sets, self.maps)
        values = {f: whole.get(f) for f in self.fields}
        own = {name: stamp_json(s) for name, s in stamps.items()}
        return {
            **values,
            **extra,
            "version": state.stamp.version,
            "updated_at": state.stamp.updated_at,
            "zone": state.stamp.zone,
            "stamps": own,
        }

    async def _insert(
        self, conn: asyncpg.Connection, key: Sequence[Any], state: Record, derive: Derive | None
    ) -> bool:
        columns = {
            **dict(zip(self.key, key, strict=True)),
            **self._columns(state, derive(state, None) if derive else {}),
        }
        names = ", ".join(columns)
        places = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        status: str = await conn.execute(
            # Only the key's conflict: another unique column's (a username) still raises.
            f"INSERT INTO {self.name} ({names}) VALUES ({places}) "  # noqa: S608
            f"ON CONFLICT ({', '.join(self.key)}) DO NOTHING",
            *columns.values(),
        )
        return status.endswith(" 1")

    async def _update(
        self, conn: asyncpg.Connection, key: Sequence[Any], state: Record, extra: Mapping[str, Any]
    ) -> None:
        columns = self._columns(state, extra)
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, 1))
        await conn.execute(
            f"UPDATE {self.name} SET {sets} WHERE {self._where(len(columns) + 1)}",  # noqa: S608
            *columns.values(),
            *key,
        )


def _renamed(key: str, renames: Mapping[str, str]) -> str:
    """``key`` (a field, ``field:element`` or ``field.setting``) with its field renamed."""
    for sep in (ELEMENT, SETTING):
        head, found, rest = key.partition(sep)
        if found:
            return renames.get(head, head) + sep + rest
    return renames.get(key, key)
