"""The liveness state (shared/liveness.py), pure: its answers against a plain model of the
tables for any messages, and when the state may answer at all (a fake clock, heartbeats and
messages handed in as the listening connection would)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import given
from hypothesis import strategies as st

from shared import liveness as lv
from tests.support.clock import Clock

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
PRACTICES = ("p1", "p2")
EMPLOYEES = ("e1", "e2")
SIDS = ("s1", "s2", "s3")


def _iso(t: datetime) -> str:
    return t.isoformat()


practice = st.sampled_from(PRACTICES)
employee = st.sampled_from(EMPLOYEES)
times = st.integers(-2, 2).map(lambda us: T0 + timedelta(microseconds=us))
#: Messages as ``liveness_notify`` sends them (JSON, timestamps as ISO 8601 text).
messages = st.one_of(
    st.builds(
        lambda sid, h: {
            "table": "revocations",
            "row": {"sid": sid, "session_expires_at": _iso(T0 + timedelta(hours=h))},
        },
        st.sampled_from(SIDS),
        st.integers(1, 24),
    ),
    st.builds(
        lambda p, e, t, deleted: {
            "table": "session_cutoffs",
            "deleted": deleted,
            "row": {"practice": p, "employee": e, "before": _iso(t)},
        },
        practice,
        employee,
        times,
        st.booleans(),
    ),
    st.builds(
        lambda p, e, active, group, deleted: {
            "table": "employees",
            "deleted": deleted,
            "row": {
                "practice": p,
                "id": e,
                "in_service": active,
                "rights_group": group,
                "username": e,
            },
        },
        practice,
        employee,
        st.booleans(),
        st.integers(1, 4),
        st.booleans(),
    ),
    st.builds(
        lambda p, rule, deleted: {
            "table": "practices",
            "deleted": deleted,
            "row": {"id": p, "two_factor_required": rule},
        },
        practice,
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        lambda table: {"table": table, "truncated": True},
        st.sampled_from(["revocations", "session_cutoffs", "employees", "practices"]),
    ),
)


#: Each table's key columns.
KEYS = {
    "revocations": ("sid",),
    "session_cutoffs": ("practice", "employee"),
    "employees": ("practice", "id"),
    "practices": ("id",),
}


class Model:
    """The four tables as rows, changed as the messages say, read as the gate's statement."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {
            "revocations": {},
            "session_cutoffs": {},
            "employees": {},
            "practices": {},
        }

    def change(self, message: dict[str, Any]) -> None:
        table = self.tables[message["table"]]
        if message.get("truncated"):
            table.clear()
            return
        row = message["row"]
        key = tuple(row[column] for column in KEYS[message["table"]])
        if message.get("deleted"):
            table.pop(key, None)
        else:
            table[key] = row

    def row(self, p: str, e: str, sid: str, sso: str) -> dict[str, Any] | None:
        person = self.tables["employees"].get((p, e))
        revoked = self.tables["revocations"]
        if person is None:
            return None
        practice_row = self.tables["practices"].get((p,))
        cutoff = self.tables["session_cutoffs"].get((p, e))
        return {
            "username": person["username"],
            "in_service": person["in_service"],
            "rights_group": person["rights_group"],
            "two_factor_required": bool(practice_row and practice_row["two_factor_required"]),
            "revoked": (sid,) in revoked or (sso,) in revoked,
            "cutoff": None if cutoff is None else datetime.fromisoformat(cutoff["before"]),
        }


@given(st.lists(messages, max_size=15))
def test_the_state_reads_as_the_tables(sent: list[dict[str, Any]]) -> None:
    state, model = lv.State(("username",)), Model()
    for message in sent:
        # Cutoffs only grow in the table (a max-register): the model writes what the table
        # would hold, the state hears the same row.
        if "row" in message and message["table"] == "session_cutoffs" and not message["deleted"]:
            key = (message["row"]["practice"], message["row"]["employee"])
            held = model.tables["session_cutoffs"].get(key)
            if held is not None and held["before"] > message["row"]["before"]:
                message = {**message, "row": held}
        state.apply(json.loads(json.dumps(message)))
        model.change(message)
    for p in PRACTICES:
        for e in EMPLOYEES:
            for sid in SIDS:
                for sso in SIDS:
                    held = state.row(p, e, sid, sso, T0)
                    expected = model.row(p, e, sid, sso)
                    if held is None:
                        assert expected is None or (p,) not in model.tables["practices"]
                    else:
                        assert held == expected


def test_revocations_are_forgotten_an_hour_after_their_session_ended() -> None:
    state = lv.State()
    state.revoke("s1", T0)
    state.revoke("s1", T0 + timedelta(hours=2))  # the later end wins
    state.forget_ended(T0 + timedelta(hours=2, minutes=59))
    assert "s1" in state.revoked
    state.forget_ended(T0 + timedelta(hours=3, seconds=1))
    assert "s1" not in state.revoked and state.size() == 0


def test_renewal_rules() -> None:
    row = {"in_service": True, "revoked": False, "cutoff": T0, "two_factor_required": True}
    assert lv.renewable(row, False, T0 + timedelta(microseconds=1))
    assert not lv.renewable(row, False, T0), "started at the cutoff: over"
    assert not lv.renewable(row, True, T0 + timedelta(seconds=1)), "one factor, two required"
    assert not lv.renewable({**row, "in_service": False}, False, T0 + timedelta(seconds=1))
    assert not lv.renewable({**row, "revoked": True}, False, T0 + timedelta(seconds=1))


async def _never() -> asyncpg.Connection:
    raise AssertionError("not connected in a unit test")


def _ready(clock: Clock) -> lv.Liveness:
    """A state as if loaded and listening, holding one employee of a practice."""
    liveness = lv.Liveness(_never, (), max_staleness=0.5, clock=clock)
    liveness.state.practices["p1"] = False
    liveness.state.employee({"practice": "p1", "id": "e1", "in_service": True, "rights_group": 2})
    liveness._ready = True
    return liveness


def _beat(liveness: lv.Liveness, clock: Clock) -> None:
    """A heartbeat sent now comes back (as :meth:`Liveness._beat` and the connection do)."""
    seq = 7
    liveness._sent[seq] = clock()
    token = liveness._token
    liveness._heard(None, 0, lv.CHANNEL, json.dumps({"heartbeat": f"{token}:{seq}"}))


def test_answers_only_while_a_heartbeat_proves_it_current() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    assert liveness.row("p1", "e1", "s1", "s1") is None, "no heartbeat back yet"
    _beat(liveness, clock)
    assert liveness.row("p1", "e1", "s1", "s1") is not None
    clock.now += 0.6
    assert not liveness.current() and liveness.row("p1", "e1", "s1", "s1") is None
    _beat(liveness, clock)
    assert liveness.current()
    liveness._ready = False  # the connection was lost
    assert liveness.row("p1", "e1", "s1", "s1") is None
    assert (liveness.answered, liveness.fell_back) == (1, 3)


def test_a_heartbeat_of_another_process_proves_nothing() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    liveness._sent[7] = clock()
    liveness._heard(None, 0, lv.CHANNEL, json.dumps({"heartbeat": "other:7"}))
    assert not liveness.current()


def test_unknown_employees_and_practices_go_to_the_database() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    _beat(liveness, clock)
    assert liveness.row("p1", "e2", "s1", "s1") is None
    assert liveness.row("p2", "e1", "s1", "s1") is None


def test_a_key_being_written_here_is_read_from_the_database_until_its_message() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    _beat(liveness, clock)
    lv.writing(sid="s1")
    lv.writing(employee=("p1", "e1"))
    assert liveness.row("p1", "e1", "s2", "s2") is None, "the employee's cutoff is written"
    cutoff = {"practice": "p1", "employee": "e1", "before": _iso(T0)}
    liveness._heard(None, 0, lv.CHANNEL, json.dumps({"table": "session_cutoffs", "row": cutoff}))
    assert liveness.row("p1", "e1", "s2", "s2") is not None
    assert liveness.row("p1", "e1", "s2", "s1") is None, "s1 (the SSO session) is written"
    clock.now += lv.WRITING_SECONDS + 0.1  # rolled back: no message; held no longer
    _beat(liveness, clock)
    assert liveness.row("p1", "e1", "s2", "s1") is not None


def test_messages_heard_while_loading_are_applied_after_the_load_in_order() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    liveness._buffer = []
    practice = {"table": "practices", "row": {"id": "p1", "two_factor_required": True}}
    liveness._heard(None, 0, lv.CHANNEL, json.dumps(practice))
    assert liveness.state.practices["p1"] is False, "not yet: the load may be older"
    for message in liveness._buffer:
        liveness._apply(message)
    assert liveness.state.practices["p1"] is True


def test_a_practice_being_written_here_is_read_from_the_database_until_its_message() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    _beat(liveness, clock)
    lv.writing(practice="p1")
    assert liveness.row("p1", "e1", "s1", "s1") is None, "its two-factor rule is written"
    practice = {"table": "practices", "row": {"id": "p1", "two_factor_required": True}}
    liveness._heard(None, 0, lv.CHANNEL, json.dumps(practice))
    found = liveness.row("p1", "e1", "s1", "s1")
    assert found is not None and found["two_factor_required"] is True


def test_holds_of_writes_that_sent_nothing_are_forgotten() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    lv.writing(sid="never-heard")
    clock.now += lv.WRITING_SECONDS + 0.1
    liveness._forget_holds()
    assert liveness._held == {}


def _client(client_id: str, deleted: bool = False) -> str:
    row = {"id": client_id, "active": not deleted, "version": 1, "stamps": {}}
    return json.dumps({"table": "clients", "deleted": deleted, "row": row})


def test_a_clients_stamp_changes_with_each_change_of_it_only() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    assert liveness.client_stamp("c1") is None, "not current: no proof"
    _beat(liveness, clock)
    first = liveness.client_stamp("c1")
    other = liveness.client_stamp("c2")
    assert first is not None and first == liveness.client_stamp("c1")
    liveness._heard(None, 0, lv.CHANNEL, _client("c1"))
    second = liveness.client_stamp("c1")
    assert second != first, "c1 changed"
    assert liveness.client_stamp("c2") == other, "c2 did not"
    liveness._heard(None, 0, lv.CHANNEL, _client("c1", deleted=True))
    assert liveness.client_stamp("c1") not in (first, second), "removed: changed again"
    assert liveness.state.size() == 3, "an employee, a practice, one client counted"


def test_a_truncation_or_a_reload_changes_every_clients_stamp() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    _beat(liveness, clock)
    liveness._heard(None, 0, lv.CHANNEL, _client("c1"))
    before = {c: liveness.client_stamp(c) for c in ("c1", "c2")}
    truncated = json.dumps({"table": "clients", "truncated": True})
    liveness._heard(None, 0, lv.CHANNEL, truncated)
    after = {c: liveness.client_stamp(c) for c in ("c1", "c2")}
    assert all(after[c] != before[c] for c in before), (before, after)
    # A reload starts the counts again from nothing: the load's number tells it apart.
    liveness._loads += 1
    liveness.state = lv.State()
    reloaded = {c: liveness.client_stamp(c) for c in ("c1", "c2")}
    assert all(reloaded[c] not in (before[c], after[c]) for c in before)


def test_answers_are_counted_by_check_and_source() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    told: list[tuple[str, str]] = []
    liveness.on_answer = lambda check, source: told.append((check, source))
    liveness.row("p1", "e1", "s1", "s1")  # not current yet
    _beat(liveness, clock)
    liveness.row("p1", "e1", "s1", "s1")
    liveness.count("client", from_memory=True)
    assert told == [("session", "database"), ("session", "memory"), ("client", "memory")]
    assert (liveness.answered, liveness.fell_back) == (1, 1), "sessions only"
    assert liveness.answers["client", "memory"] == 1


def test_proof_age_is_infinite_before_the_first_heartbeat_then_grows() -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    assert liveness.proof_age() == float("inf")
    _beat(liveness, clock)
    clock.now += 0.25
    assert liveness.proof_age() == 0.25
    liveness._ready = False  # the connection lost: the age keeps growing
    clock.now += 1
    assert liveness.proof_age() == 1.25 and liveness.staleness() is None


client_messages = st.one_of(
    st.builds(
        lambda c, deleted: json.loads(_client(c, deleted)),
        st.sampled_from(("c1", "c2")),
        st.booleans(),
    ),
    st.just({"table": "clients", "truncated": True}),
    messages,
)


@given(st.lists(client_messages, max_size=12))
def test_a_clients_stamp_is_unchanged_exactly_while_nothing_of_it_was_heard(
    sent: list[dict[str, Any]],
) -> None:
    clock = Clock(100.0)
    liveness = _ready(clock)
    _beat(liveness, clock)
    taken = {c: liveness.client_stamp(c) for c in ("c1", "c2")}
    touched: set[str] = set()
    for message in sent:
        liveness._heard(None, 0, lv.CHANNEL, json.dumps(message))
        if message["table"] == "clients":
            touched |= {"c1", "c2"} if message.get("truncated") else {message["row"]["id"]}
        for c in ("c1", "c2"):
            assert (liveness.client_stamp(c) == taken[c]) == (c not in touched), (c, sent)
