"""Properties of the per-field last-writer-wins merge (shared/merge.py): commutative,
associative, idempotent; any order and duplication of the same states gives the same state;
per field, the newest write wins; a writer's edit beats every state it has seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.events import EmployeeUpserted, stamped
from shared.merge import Record, Stamp, edit, merge, merge_all, record

FIELDS = ("name", "email", "in_service", "rights_group")
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

stamps = st.builds(
    Stamp,
    st.integers(1, 4),
    st.integers(0, 3).map(lambda s: T0 + timedelta(seconds=s)),
    st.sampled_from(["a", "b"]),
)
values = st.one_of(st.none(), st.booleans(), st.integers(0, 3), st.sampled_from(["x", "y"]))


@st.composite
def records(draw: st.DrawFn) -> Record:
    """A state: some fields, each with a stamp, and a record stamp at least theirs."""
    names = draw(st.lists(st.sampled_from(FIELDS), min_size=1, unique=True))
    per_field = {name: draw(stamps) for name in names}
    own = max([draw(stamps), *per_field.values()])
    return record({name: draw(values) for name in names}, own, per_field)


@settings(max_examples=300)
@given(records(), records())
def test_commutative(a: Record, b: Record) -> None:
    assert merge(a, b) == merge(b, a)


@settings(max_examples=300)
@given(records(), records(), records())
def test_associative(a: Record, b: Record, c: Record) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@settings(max_examples=200)
@given(records(), records())
def test_idempotent(a: Record, b: Record) -> None:
    assert merge(a, a) == a
    ab = merge(a, b)
    assert merge(ab, a) == ab and merge(ab, b) == ab


@settings(max_examples=200)
@given(st.lists(records(), min_size=1, max_size=6), st.data())
def test_any_order_and_duplication_gives_the_same_state(
    states: list[Record], data: st.DataObject
) -> None:
    expected = merge_all(states)
    shuffled = data.draw(st.permutations(states))
    duplicates = data.draw(st.lists(st.sampled_from(states), max_size=6))
    assert merge_all([*shuffled, *duplicates]) == expected


@settings(max_examples=200)
@given(st.lists(records(), min_size=1, max_size=6))
def test_per_field_the_newest_write_wins(states: list[Record]) -> None:
    merged = merge_all(states)
    for name in {n for s in states for n in s.values}:
        newest = max(s.stamps[name] for s in states if name in s.values)
        assert merged.stamps[name] == newest
        assert merged.values[name] in [
            s.values[name] for s in states if name in s.values and s.stamps[name] == newest
        ]
    assert merged.stamp == max(s.stamp for s in states)


@settings(max_examples=200)
@given(
    st.lists(records(), min_size=1, max_size=5),
    st.dictionaries(st.sampled_from(FIELDS), values, min_size=1),
)
def test_an_edit_beats_every_state_its_writer_has_seen(
    seen: list[Record], changes: dict[str, Any]
) -> None:
    current = merge_all(seen)
    edited = edit(current, changes, T0 + timedelta(seconds=1), "b")
    for state in seen:
        assert merge(edited, state) == edited
    for name, value in changes.items():
        assert edited.values[name] == value


def test_concurrent_edits_of_different_fields_both_survive() -> None:
    base = record({"in_service": True, "email": "old"}, Stamp(1, T0, "a"))
    in_a = edit(base, {"in_service": False, "email": "old"}, T0 + timedelta(seconds=1), "a")
    in_b = edit(base, {"in_service": True, "email": "new"}, T0 + timedelta(seconds=2), "b")
    assert in_a.own == {"email": Stamp(1, T0, "a")}, "an unchanged field keeps its stamp"
    for merged in (merge(in_a, in_b), merge(in_b, in_a)):
        assert merged.values == {"in_service": False, "email": "new"}
        assert merged.stamp == Stamp(2, T0 + timedelta(seconds=2), "b")


def test_an_edit_that_changes_nothing_is_no_write() -> None:
    base = record({"in_service": True}, Stamp(3, T0, "a"))
    assert edit(base, {"in_service": True}, T0, "b") is base


def _employee(**extra: Any) -> dict[str, Any]:
    return {
        "employee": "piet01",
        "username": "piet",
        "name": "Piet",
        "rights_group": 2,
        "version": 2,
        "updated_at": T0.isoformat(),
        "zone": "a",
        **extra,
    }


def test_an_event_without_stamps_has_every_field_at_its_stamp() -> None:
    event = EmployeeUpserted.model_validate(_employee())
    assert event.field_stamps() == {}
    assert "employee" not in event.values(), "the key is not a merged field"
    state = record(event.values(), event.stamp, event.field_stamps())
    assert set(state.stamps.values()) == {Stamp(2, T0, "a")}


def test_event_stamps_round_trip_and_are_checked() -> None:
    base = record({"in_service": True, "email": None}, Stamp(1, T0, "a"))
    state = edit(base, {"in_service": False}, T0 + timedelta(seconds=5), "b")
    data = EmployeeUpserted(
        employee="piet01", username="piet", name="Piet", rights_group=2, **stamped(state)
    ).model_dump(mode="json")
    assert data["stamps"] == {
        "email": {"version": 1, "updated_at": "2026-11-28T12:00:00Z", "zone": "a"}
    }
    again = EmployeeUpserted.model_validate(data)
    assert again.field_stamps() == {"email": Stamp(1, T0, "a")}
    assert again.stamp == Stamp(2, T0 + timedelta(seconds=5), "b")
    newer = {"version": 9, "updated_at": T0.isoformat(), "zone": "a"}
    with pytest.raises(ValidationError, match="newer than the record"):
        EmployeeUpserted.model_validate(_employee(stamps={"email": newer}))
    with pytest.raises(ValidationError, match="unknown fields"):
        EmployeeUpserted.model_validate(_employee(stamps={"employee": newer | {"version": 1}}))
