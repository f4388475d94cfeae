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

from shared.events import CertificateUpserted, EmployeeUpserted, stamped
from shared.merge import Record, Stamp, collapse, edit, expand, merge, merge_all, record

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


# -- sets and maps merged per element (a certificate's grants, a practice's password policy) --

ELEMENTS = ("e1", "e2", "e3")
SETTINGS = ("max_attempts", "min_strength")


@st.composite
def grant_states(draw: st.DrawFn) -> Record:
    """A certificate-like state as an event carries it: ``grants`` (a list) with, sometimes,
    stamps of its own for the whole list and for elements (listed: granted, not: revoked),
    and a ``policy`` map with, sometimes, stamps per setting."""
    own: dict[str, Stamp] = draw(
        st.dictionaries(
            st.sampled_from(
                ["grants", "policy", *(f"grants:{e}" for e in ELEMENTS)]
                + [f"policy.{n}" for n in SETTINGS]
            ),
            stamps,
            max_size=4,
        )
    )
    stamp = max([draw(stamps), *own.values()])
    state = {
        "grants": draw(st.lists(st.sampled_from(ELEMENTS), unique=True)),
        "policy": {n: draw(st.integers(1, 3)) for n in SETTINGS},
        "name": draw(values),
    }
    return expand(state, stamp, own, sets={"grants"}, maps={"policy"})


def granted(state: Record) -> list[str]:
    return list(collapse(state, {"grants"}, {"policy"})[0]["grants"])


@settings(max_examples=300)
@given(grant_states(), grant_states(), grant_states())
def test_sets_and_maps_merge_commutatively_associatively_idempotently(
    a: Record, b: Record, c: Record
) -> None:
    assert merge(a, b) == merge(b, a)
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge(a, a) == a
    ab = merge(a, b)
    assert merge(ab, a) == ab and merge(ab, b) == ab


@settings(max_examples=200)
@given(st.lists(grant_states(), min_size=1, max_size=6), st.data())
def test_sets_any_order_and_duplication_gives_the_same_state(
    states: list[Record], data: st.DataObject
) -> None:
    expected = merge_all(states)
    shuffled = data.draw(st.permutations(states))
    duplicates = data.draw(st.lists(st.sampled_from(states), max_size=6))
    assert merge_all([*shuffled, *duplicates]) == expected


@settings(max_examples=300)
@given(grant_states())
def test_a_state_survives_the_way_through_events_and_rows(state: Record) -> None:
    values, own = collapse(state, {"grants"}, {"policy"})
    assert expand(values, state.stamp, own, {"grants"}, {"policy"}) == state


@settings(max_examples=300)
@given(
    st.lists(grant_states(), min_size=1, max_size=4),
    st.sampled_from(ELEMENTS),
    st.sampled_from(ELEMENTS),
)
def test_a_revocation_survives_a_concurrent_grant_to_another_employee(
    seen: list[Record], revoked: str, other: str
) -> None:
    """Zones a and b start from the same state; a revokes one employee, b grants another:
    after the merge the revoked employee is out and the other in, in every order."""
    base = merge_all(seen)
    at = max(s.stamp.updated_at for s in seen)
    in_a = edit(base, {f"grants:{revoked}": False}, at + timedelta(seconds=1), "a")
    in_b = edit(base, {f"grants:{other}": True}, at + timedelta(seconds=2), "b")
    for merged in (merge(in_a, in_b), merge(in_b, in_a)):
        if revoked != other:
            assert revoked not in granted(merged)
            assert other in granted(merged)
        for state in seen:
            assert merge(merged, state) == merged, "no state seen before brings a grant back"


@settings(max_examples=200)
@given(st.lists(grant_states(), min_size=1, max_size=4), st.sampled_from(SETTINGS), st.data())
def test_two_settings_changed_concurrently_both_survive(
    seen: list[Record], setting: str, data: st.DataObject
) -> None:
    base = merge_all(seen)
    at = max(s.stamp.updated_at for s in seen)
    other = next(n for n in SETTINGS if n != setting)
    in_a = edit(base, {f"policy.{setting}": 7}, at + timedelta(seconds=2), "a")
    in_b = edit(base, {f"policy.{other}": 9}, at + timedelta(seconds=1), "b")
    policy = collapse(merge(in_a, in_b), {"grants"}, {"policy"})[0]["policy"]
    assert policy == {setting: 7, other: 9}


def test_a_whole_list_without_element_stamps_merges_as_before() -> None:
    """An older writer's event (the whole list, no element stamps) newer than every element
    replaces the set: a grant it does not list is gone, as when grants was one field."""
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    granted_both = edit(
        expand({"grants": ["e1"]}, Stamp(1, T0, "a"), sets={"grants"}),
        {"grants:e2": True},
        t1,
        "a",
    )
    old_writer = expand({"grants": ["e1"]}, Stamp(3, t2, "b"), sets={"grants"})
    assert granted(merge(granted_both, old_writer)) == ["e1"]
    older = expand({"grants": ["e3"]}, Stamp(1, T0 - timedelta(seconds=1), "b"), sets={"grants"})
    assert granted(merge(granted_both, older)) == ["e1", "e2"], "an older whole list loses"


def test_certificate_event_carries_element_stamps_and_checks_them() -> None:
    base = expand({"grants": ["e1", "e2"]}, Stamp(1, T0, "a"), sets={"grants"})
    state = edit(base, {"grants:e1": False}, T0 + timedelta(seconds=5), "b")
    fixed = {
        "nr": "c1",
        "fingerprint": "f" * 64,
        "certificate_pem": "PEM",
        "subject": "CN=Piet",
        "issuer": "CN=UZI",
        "serial_number": "1",
        "not_before": T0,
        "not_after": T0 + timedelta(days=1),
        "kind": "uzi",
    }
    values, _ = collapse(state, {"grants"})
    event = CertificateUpserted(
        **fixed, **stamped(Record(state.values, state.stamps, state.stamp), CertificateUpserted)
    )
    assert event.grants == ["e2"] == values["grants"]
    data = event.model_dump(mode="json")
    assert set(data["stamps"]) == {"grants", "grants:e1"}, "the revocation travels as a stamp"
    again = CertificateUpserted.model_validate(data).state()
    assert {k: (v, again.stamps[k]) for k, v in again.values.items() if k.startswith("grants")} == {
        k: (v, state.stamps[k]) for k, v in state.values.items()
    }
    with pytest.raises(ValidationError, match="unknown fields"):
        CertificateUpserted.model_validate(
            data | {"stamps": {"grant:e1": data["stamps"]["grants:e1"]}}
        )
