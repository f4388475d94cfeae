"""Auth's liveness metrics (services/auth/metrics.py): the staleness and size read from the
state at each scrape, answers counted by check and source, and with several workers (files a
scrape reads instead of this registry) the values written by a task. A fake clock; the state
is not connected (tests/integration/test_client_liveness.py scrapes a running auth)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.auth import metrics as auth_metrics
from services.auth.metrics import AuthMetrics
from shared.liveness import Liveness
from tests.support.clock import Clock


async def _never() -> asyncpg.Connection:
    raise AssertionError("not connected in a unit test")


def _value(metrics: AuthMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"service": "auth", "zone": "a", **labels})


def test_gauges_read_the_state_at_each_scrape() -> None:
    clock = Clock(100.0)
    liveness = Liveness(_never, (), 0.5, clock=clock)
    metrics = AuthMetrics("a")
    assert metrics.watch_liveness(liveness) is None, "one process: nothing to run"
    assert _value(metrics, "tweestap_liveness_staleness_seconds") == float("inf")
    liveness._proven_at = clock.now
    clock.now += 0.2
    assert _value(metrics, "tweestap_liveness_staleness_seconds") == pytest.approx(0.2)
    assert _value(metrics, "tweestap_liveness_entries") == 0
    liveness.state.practices["p1"] = True
    assert _value(metrics, "tweestap_liveness_entries") == 1


def test_answers_are_counted_by_check_and_source() -> None:
    liveness = Liveness(_never, (), 0.5, clock=Clock(100.0))
    metrics = AuthMetrics("a")
    metrics.watch_liveness(liveness)
    liveness.row("p1", "e1", "s1", "s1")  # not loaded: the database answers
    liveness.count("client", from_memory=True)
    liveness.count("client", from_memory=True)
    answers = "tweestap_liveness_answers_total"
    assert _value(metrics, answers, check="session", source="database") == 1
    assert _value(metrics, answers, check="session", source="memory") == 0
    assert _value(metrics, answers, check="client", source="memory") == 2


async def test_with_several_workers_a_task_writes_the_gauges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth_metrics, "metrics_shared", lambda: True)
    monkeypatch.setattr(auth_metrics, "LIVENESS_GAUGE_SECONDS", 0.01)
    clock = Clock(100.0)
    liveness = Liveness(_never, (), 0.5, clock=clock)
    liveness._proven_at = clock.now - 0.3
    metrics = AuthMetrics("a")
    publish = metrics.watch_liveness(liveness)
    assert publish is not None
    task = asyncio.create_task(publish())
    try:
        await asyncio.sleep(0.05)
        assert _value(metrics, "tweestap_liveness_staleness_seconds") == pytest.approx(0.3)
        clock.now += 1
        await asyncio.sleep(0.05)
        assert _value(metrics, "tweestap_liveness_staleness_seconds") == pytest.approx(1.3)
    finally:
        task.cancel()
