"""Nothing is lost when the broker goes away or the service restarts: the outbox holds the
events and the relay publishes them when it can. The relay is at-least-once (a batch sent into
a frozen broker may be sent again), so events are counted by their distinct ids: consumers drop
duplicates by id, which is the contract."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg
import pytest

from tests.support.bus import read_events
from tests.support.cluster import (
    ADMIN_PASSWORD,
    Cluster,
    Zone,
    consumer_of,
    login,
    wait_for,
    wait_ready,
)
from tests.support.tokens import bearer, change_own_password


def _types(events: list[dict[str, Any]]) -> Counter[str]:
    """How many distinct events (by id) of each type."""
    return Counter(e["type"] for e in {e["id"]: e for e in events}.values())


async def test_logins_during_broker_outage_publish_each_event_once(private: Cluster) -> None:
    zone = await private.start("a")
    await private.bootstrap(zone)
    private.broker.stop()
    sids = []
    for _ in range(3):
        status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
        assert status == 200, f"logins go on without the broker: {body}"
        sids.append(body["token"]["token"])
    backlog = await zone.auth.pool.fetchval("SELECT count(*) FROM outbox")
    assert backlog >= 6
    ready = await zone.ops.get("/readyz")
    body = await ready.json(content_type=None)
    assert ready.status == 200, f"the zone still serves without the broker: {body}"
    assert body["status"] == "degraded" and body["checks"]["broker"] is False
    private.broker.start()

    async def drained() -> bool:
        return bool(await zone.auth.pool.fetchval("SELECT count(*) FROM outbox") == 0)

    await wait_for(drained, timeout=60, interval=0.5)
    topic = zone.settings.topic("auth.events")
    events = await read_events(
        private.broker, topic, lambda ev: _types(ev)["token.issued"] >= 3, timeout=30
    )
    counts = _types(events)
    assert counts["token.issued"] == 3 and counts["login.succeeded"] == 3

    await wait_ready(zone, timeout=30)


async def test_restart_loses_nothing(private: Cluster) -> None:
    zone = await private.start("a")
    await private.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    new_password = "Na-De-Herstart-Nog-Steeds-Geldig-42"
    private.broker.pause()
    try:
        token = body["token"]["token"]
        status, _ = await change_own_password(zone, token, ADMIN_PASSWORD, new_password)
        assert status == 200
        pending = await zone.auth.pool.fetchval("SELECT count(*) FROM outbox")
        assert pending >= 2, "events wait in the outbox"
        await zone.stop()
        private.zones.remove(zone)
    finally:
        private.broker.resume()
    restarted = await private.start("a")
    # It has consumed before (its inbox is not empty): its state may predate events on the bus,
    # so it refuses to decide on sessions until it has read to the end.
    assert consumer_of(restarted).behind, "a restarted zone starts catching up"
    refused, problem = await login(restarted, "fysio", "admin", new_password)
    assert (refused, problem["type"].rsplit("/", 1)[-1]) == (503, "catching-up")
    # What clients probe before moving back to a zone says the same.
    probe = await restarted.client.get("/v1/status")
    assert (probe.status, (await probe.json())["type"].rsplit("/", 1)[-1]) == (503, "catching-up")
    await wait_ready(restarted)
    probe = await restarted.client.get("/v1/status")
    assert (probe.status, await probe.json()) == (200, {"zone": "a", "status": "serving"})
    status, _ = await login(restarted, "fysio", "admin", new_password)
    assert status == 200, "state survived the restart"

    async def drained() -> bool:
        return bool(await restarted.auth.pool.fetchval("SELECT count(*) FROM outbox") == 0)

    await wait_for(drained, timeout=60, interval=0.5)
    events = await read_events(
        private.broker,
        restarted.settings.topic("auth.events"),
        lambda ev: _types(ev)["token.issued"] >= 2,
    )
    counts = _types(events)
    assert counts["password.changed"] == 2, "bootstrap's and the change"
    assert counts["token.issued"] == 3, "two logins and the caller's new session after the change"


async def _consumed_then_restarted(
    private: Cluster, forget: str, caplog: pytest.LogCaptureFixture
) -> Zone:
    """Zone a logs in, revokes and consumes; stopped, its database runs ``forget``; started
    again (while ``caplog`` listens)."""
    zone = await private.start("a")
    await private.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    revoked = await zone.client.post("/v1/tokens/revoke", headers=bearer(body["token"]["token"]))
    assert revoked.status in (200, 204)

    async def applied() -> bool:
        return bool(await zone.auth.pool.fetchval("SELECT count(*) FROM inbox") > 0)

    await wait_for(applied, timeout=30)
    await zone.stop()
    private.zones.remove(zone)
    conn = await asyncpg.connect(zone.settings.database_url)
    try:
        await conn.execute(forget)
    finally:
        await conn.close()
    caplog.set_level("INFO", logger="shared.consumer")
    return await private.start("a")


async def test_restart_with_an_empty_inbox_is_behind_before_it_serves(
    private: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """The inbox forgets rows past their retention (and records a consumer skips never reach
    it); the database's own mark that this consumer has consumed does not: a restart is behind
    before its first request, not only once the broker has assigned it partitions (readiness
    would say yes, then no)."""
    restarted = await _consumed_then_restarted(private, "DELETE FROM inbox", caplog)
    assert consumer_of(restarted).behind, "it has consumed before: behind from the start"
    refused, problem = await login(restarted, "fysio", "admin", ADMIN_PASSWORD)
    assert (refused, problem["type"].rsplit("/", 1)[-1]) == (503, "catching-up")
    await wait_for(lambda: _said(caplog, "consumer auth caught up"), timeout=60, interval=0.2)
    await wait_ready(restarted)


async def test_a_new_database_under_a_group_that_consumed_catches_up(
    private: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """A database with no trace of consuming (restored, or new) under a group with committed
    offsets: the first assignment says it is behind, and it catches up."""
    restarted = await _consumed_then_restarted(
        private, "DELETE FROM inbox; DELETE FROM consumed", caplog
    )
    assert not consumer_of(restarted).behind, "the database alone says: never consumed"
    await wait_for(lambda: _said(caplog, "consumer auth caught up"), timeout=60, interval=0.2)
    await wait_ready(restarted)


async def _said(caplog: pytest.LogCaptureFixture, words: str) -> bool:
    return any(words in r.getMessage() for r in caplog.records)
