"""The pure parts of services/dev/convergence.py: a table's digest and the keys two zones'
rows differ by, which dead letters count as genuine, and what ``/metrics`` says of stuck
consumers (from a real exposition of shared/metrics.py)."""

from __future__ import annotations

from services.dev.convergence import (
    PER_ZONE,
    REPLICATED,
    compare_rows,
    digest,
    lag_topics,
    refused_as_foreign,
    stuck_consumers,
)
from shared.metrics import Metrics


def test_digest_depends_on_contents_not_order() -> None:
    a = {'["p", "1"]': "aa", '["p", "2"]': "bb"}
    b = {'["p", "2"]': "bb", '["p", "1"]': "aa"}
    assert digest(a) == digest(b)
    assert digest(a) != digest({**a, '["p", "2"]': "bc"})
    assert digest(a) != digest({'["p", "1"]': "aa"})
    # Key and row are separated: moving a character from one to the other changes the digest.
    assert digest({"k1": "x"}) != digest({"k": "1x"})
    assert digest({}) == digest({})


def test_compare_names_differing_missing_and_extra_keys_in_key_order() -> None:
    a = {"1": "x", "2": "y", "3": "z", "5": "q"}
    b = {"1": "x", "2": "Y", "4": "w", "5": "q"}
    assert compare_rows(a, b) == ["2 (differs)", "3 (only in a)", "4 (only in b)"]
    assert compare_rows(a, a) == []
    assert compare_rows(a, {}, limit=2) == ["1 (only in a)", "2 (only in a)"]


def test_refusals_of_authenticity_and_bounds_are_not_genuine() -> None:
    assert refused_as_foreign(
        "factor.credential: no valid tweestap-tag: not written by Tweestap (DESIGN §9)"
    )
    assert refused_as_foreign("not an event envelope: ValidationError: 3 errors")
    assert refused_as_foreign(
        "login.failed: the event's time lies 3600 s in the future (at most 300 s of clock "
        "skew are allowed)"
    )
    assert not refused_as_foreign("factor.credential: ValueError: boom (failed 3 of 3 attempts)")
    assert not refused_as_foreign("employee.upserted: InvalidEvent: version leaps too far")


def test_stuck_consumers_from_a_real_exposition() -> None:
    metrics = Metrics("auth", "a")
    base = metrics.base()
    assert lag_topics(metrics.exposition().decode()) == []
    metrics.catching_up.labels(**base, consumer="auth-a").set(0)
    metrics.consumer_lag.labels(**base, topic="directory.employees").set(0)
    assert stuck_consumers(metrics.exposition().decode()) == []
    metrics.catching_up.labels(**base, consumer="auth-a").set(1)
    metrics.consumer_lag.labels(**base, topic="factors").set(3)
    assert stuck_consumers(metrics.exposition().decode()) == [
        "consumer auth-a catching up",
        "lag 3 on factors",
    ]
    assert lag_topics(metrics.exposition().decode()) == ["directory.employees", "factors"]


def test_no_table_is_both_replicated_and_per_zone() -> None:
    for service, tables in REPLICATED.items():
        names = [t.name for t in tables]
        assert len(names) == len(set(names)), service
        assert not set(names) & PER_ZONE[service].keys(), service
        for table in tables:
            assert table.key and not set(table.key) & set(table.local), table
