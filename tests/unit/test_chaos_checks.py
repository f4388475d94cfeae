"""The chaos run's invariants (services/dev/chaos/checks.py) on histories made by hand: each
check finds the violation put in, and lets pass what the promise allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.dev.chaos import checks
from services.dev.chaos.history import History, read


def op(kind: str, start: float, end: float, outcome: str = "ok", **fields: Any) -> dict[str, Any]:
    return {
        "type": "op",
        "client": "c",
        "kind": kind,
        "start": start,
        "end": end,
        "outcome": outcome,
        "error": None if outcome == "ok" else "ZonesUnavailable",
        "zones": ["a"],
    } | fields


def fault(kind: str, target: str, start: float, end: float | None) -> dict[str, Any]:
    return {
        "type": "fault",
        "kind": kind,
        "target": target,
        "start": start,
        "end": end,
        "planned": start,
    }


# --------------------------------------------------------------------------- invariant 1


def test_a_renewal_no_zone_answered_while_one_was_healthy_is_a_violation() -> None:
    history = [fault("kill", "auth-a", 10, 10), op("renew", 12, 13, "unavailable")]
    found = checks.calls(history)
    assert len(found.violations) == 1 and "renew" in found.violations[0]


def test_a_renewal_no_zone_answered_while_both_were_impaired_is_excused() -> None:
    history = [
        fault("zone-down", "a", 10, 30),
        fault("stop", "auth-b", 11, 15),
        op("renew", 12, 13, "unavailable"),
    ]
    found = checks.calls(history)
    assert found.violations == [] and found.detail["excused_every_zone_impaired"] == 1


def test_the_grace_after_a_fault_ends_and_no_longer() -> None:
    faults = [fault("postgres-down", "a", 0, 5), fault("kill", "auth-b", 4, 4)]
    within = checks.calls([*faults, op("renew", 20, 21, "unavailable")])
    after = checks.calls([*faults, op("renew", 60, 61, "unavailable")])
    assert within.violations == [] and len(after.violations) == 1


def test_any_other_error_is_a_violation_even_during_faults() -> None:
    history = [fault("zone-down", "a", 0, 30), fault("kill", "auth-b", 1, 1)]
    found = checks.calls([*history, op("request", 2, 3, "other")])
    assert len(found.violations) == 1


def test_an_interrupted_login_is_documented() -> None:
    assert checks.calls([op("login", 1, 2, "documented")]).violations == []


def test_saturation_excuses_logins_not_renewals() -> None:
    history = [fault("saturation", "logins", 0, 10)]
    logins = checks.calls([*history, op("login", 1, 2, "unavailable")])
    renewals = checks.calls([*history, op("renew", 1, 2, "unavailable")])
    assert logins.violations == [] and len(renewals.violations) == 1


def test_saturation_excuses_a_password_change_in_its_zone() -> None:
    history = [fault("saturation", "logins", 0, 10)]
    change = op("password", 1, 6, "unavailable", repeatable=False)
    assert checks.calls([*history, change]).violations == []


def test_a_session_that_ended_without_a_revocation_is_a_violation() -> None:
    ended = op("renew", 5, 6, "ended", sids=["s1"], employee="e1")
    assert len(checks.calls([ended]).violations) == 1
    revoked = {"type": "revoked", "sid": "s1", "at": 4.0, "how": "logout", "token": "t"}
    assert checks.calls([revoked, ended]).violations == []
    edit = op("out-of-service", 3, 4, employee="e1")
    assert checks.calls([edit, ended]).violations == []


def test_a_post_that_may_have_applied_is_excused_only_in_its_impaired_zone() -> None:
    change = op("password", 2, 3, "unavailable", repeatable=False)
    assert checks.calls([fault("stop", "auth-a", 1, 4), change]).violations == []
    assert len(checks.calls([fault("stop", "auth-b", 1, 4), change]).violations) == 1


# --------------------------------------------------------------------------- invariant 2


def revoked(sid: str, at: float) -> dict[str, Any]:
    return {"type": "revoked", "sid": sid, "at": at, "how": "logout", "token": "t"}


def probe(sid: str, zone: str, at: float, status: int, final: bool = False) -> dict[str, Any]:
    entry = {"type": "probe", "sid": sid, "zone": zone, "at": at, "status": status}
    return entry | ({"final": True} if final else {})


def test_a_session_renewed_after_its_zone_refused_it_is_a_violation() -> None:
    history = [
        revoked("s1", 1.0),
        probe("s1", "b", 1.0, 200),
        probe("s1", "b", 1.2, 401),
        probe("s1", "b", 1.5, 200),
    ]
    found = checks.revocations(history)
    assert len(found.violations) == 1 and "zone b" in found.violations[0]


def test_a_session_renewed_after_the_heal_is_a_violation() -> None:
    history = [revoked("s1", 1.0), probe("s1", "a", 1.0, 401), probe("s1", "b", 90, 200, True)]
    assert len(checks.revocations(history).violations) == 1


def test_the_lag_is_the_time_to_the_first_refusal_and_a_503_decides_nothing() -> None:
    history = [
        revoked("s1", 1.0),
        probe("s1", "a", 1.0, 503),
        probe("s1", "a", 1.2, 200),
        probe("s1", "a", 1.5, 401),
        probe("s1", "a", 90, 401, True),
    ]
    found = checks.revocations(history)
    assert found.violations == []
    assert found.detail["lag_connected"] == {
        "samples": 1,
        "p50_ms": 500.0,
        "p99_ms": 500.0,
        "max_ms": 500.0,
    }


def test_the_lag_under_faults_is_apart() -> None:
    history = [
        fault("broker-pause", "broker", 0.5, 5),
        revoked("s1", 1.0),
        probe("s1", "b", 5.5, 401),
    ]
    found = checks.revocations(history)
    assert found.detail["lag_under_faults"]["samples"] == 1
    assert found.detail["lag_connected"]["samples"] == 0


# --------------------------------------------------------------------------- invariant 3


def edit(field: str, value: str, start: float, outcome: str = "ok") -> dict[str, Any]:
    return op("admin-edit", start, start + 0.1, outcome, employee="p/e", field=field, value=value)


def test_a_field_that_lost_its_last_acknowledged_value_is_a_violation() -> None:
    history = [edit("name", "A", 1), edit("name", "B", 2), edit("phone", "1", 1.5)]
    good = {"a": {"p/e/name": "B", "p/e/phone": "1"}, "b": {"p/e/name": "B", "p/e/phone": "1"}}
    lost = {"a": {"p/e/name": "B", "p/e/phone": "1"}, "b": {"p/e/name": "A", "p/e/phone": "1"}}
    assert checks.merged_fields(history, good).violations == []
    found = checks.merged_fields(history, lost)
    assert len(found.violations) == 1 and "zone b" in found.violations[0]


def test_a_later_edit_whose_answer_was_lost_may_have_applied() -> None:
    history = [edit("name", "A", 1), edit("name", "B", 2, "unavailable")]
    for value in ("A", "B"):
        assert checks.merged_fields(history, {"a": {"p/e/name": value}}).violations == []
    assert len(checks.merged_fields(history, {"a": {"p/e/name": "C"}}).violations) == 1


# --------------------------------------------------------------------------- invariant 4


def test_more_guesses_than_the_bound_in_one_zone_is_a_violation() -> None:
    rows = [
        {"practice": "p", "username": "g", "zone": "a", "count": 5},
        {"practice": "p", "username": "g", "zone": "b", "count": 5},
        {"practice": "p", "username": "h", "zone": "a", "count": 6},
    ]
    found = checks.lockout(rows, max_attempts=5)
    assert len(found.violations) == 1 and "p/h" in found.violations[0]
    assert found.detail["most_evaluated"] == 10


def test_an_employee_locked_out_with_their_own_password_is_one_violation() -> None:
    locked = "TweestapError(429 account-locked: Logging in is blocked)"
    history = [
        op("password", 1, 2, client="p/user0"),
        op("login", 3, 4, "other", client="p/user0", error="TweestapError(401 invalid)"),
        op("login", 5, 6, "other", client="p/user0", error=locked),
        op("login", 7, 8, "other", client="p/user0", error=locked),
        op("guess", 5, 6, "documented", client="p/guesser", error=locked),
    ]
    found = checks.locked_out(history)
    assert len(found.violations) == 1
    assert "p/user0 locked out at 5.0 s (2 logins refused)" in found.violations[0]
    assert "password 1.0 s" in found.violations[0]
    calls = checks.calls(history)  # counted there once per account, not per refusal
    assert calls.detail["locked_out"] == 2 and len(calls.violations) == 1  # the 401


# --------------------------------------------------------------------------- invariant 5


def test_an_acknowledged_request_never_delivered_is_a_violation() -> None:
    history = [
        {"type": "notify", "request_id": "r1", "at": 1.0, "acked": True},
        {"type": "notify", "request_id": "r2", "at": 2.0, "acked": True},
        {"type": "notify", "request_id": "r3", "at": 3.0, "acked": False},
    ]
    found = checks.notifications(history, {"r1": 2})
    assert len(found.violations) == 1 and "r2" in found.violations[0]
    assert found.detail["delivered_more_than_once"] == 1


# --------------------------------------------------------------------------- the history


def test_a_fault_reads_back_with_its_end(tmp_path: Path) -> None:
    history = History(tmp_path / "history.jsonl", clock=iter([0.0, 1.0, 2.0]).__next__)
    start = history.record(fault("kill", "auth-a", history.now(), None))
    history.record({**start, "type": "fault-end", "end": history.now()})
    (kept,) = checks.faults_of(read(tmp_path / "history.jsonl"))
    assert kept["end"] == 2.0 and kept["type"] == "fault"
