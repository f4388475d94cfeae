"""What every service has: probes, metrics, OpenAPI; idempotent and dead-lettering consumers;
the command line's migrate and bootstrap."""

from __future__ import annotations

import os
import subprocess
import sys

from shared.events import Envelope, PracticeUpserted, utcnow
from tests.support.bus import applied, send
from tests.support.cluster import SEALING, Cluster, Zone, login, wait_for


async def test_probes_metrics_and_openapi(cluster: Cluster) -> None:
    zone = await cluster.start("b")
    await cluster.bootstrap(zone)
    await login(zone, "fysio", "admin", "wrong")
    assert (await zone.ops.get("/healthz")).status == 200
    ready = await zone.ops.get("/readyz")
    assert ready.status == 200 and (await ready.json())["checks"] == {
        "database": True,
        "broker": True,
        "tasks": True,
    }
    text = await (await zone.ops.get("/metrics")).text()
    assert 'tweestap_logins_total{outcome="failure",service="auth",zone="b"} 1.0' in text
    for name in (
        "tweestap_outbox_backlog",
        "tweestap_login_seconds_bucket",
        "tweestap_http_requests_total",
        "tweestap_consumer_lag",
    ):
        assert name in text, name
    spec = await (await zone.client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/v1/login",
        "/v1/tokens/renew",
        "/.well-known/jwks.json",
        "/v1/practices/{p}/employees/{e}/password",
    ):
        assert path in spec["paths"], path
    assert "LoginRequest" in spec["components"]["schemas"]


async def _send(zone: Zone, topic: str, payload: bytes) -> None:
    await send(zone.settings.kafka_bootstrap, zone.settings.topic(topic), payload, b"fysio:fysio")


async def test_duplicates_apply_once_and_bad_events_are_dead_lettered(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    body = PracticeUpserted(name="Renamed", version=5, updated_at=utcnow(), zone="a")
    event = Envelope(
        type="practice.upserted",
        source="enrolment@a",
        practice="fysio",
        subject="fysio",
        data=body.model_dump(mode="json"),
    )
    raw = event.model_dump_json().encode()
    await _send(zone, "directory.practices", b"this is not json")
    bad = event.model_copy(update={"data": {"name": ""}}).model_dump_json().encode()
    await _send(zone, "directory.practices", bad)
    await _send(zone, "directory.practices", raw)
    await _send(zone, "directory.practices", raw)
    pool = zone.auth.pool

    async def renamed() -> bool:
        return bool(await pool.fetchval("SELECT name = 'Renamed' FROM practices"))

    await wait_for(renamed)

    async def dead() -> list[str]:
        rows = await pool.fetch("SELECT reason FROM dead_letters ORDER BY id")
        return [r["reason"] for r in rows] if len(rows) == 2 else []

    reasons = await wait_for(dead)
    assert "not an event envelope" in reasons[0]
    assert reasons[1].startswith("practice.upserted:") and "name" in reasons[1]

    await wait_for(lambda: applied(pool, [event.id]))
    older = body.model_copy(update={"version": 4, "name": "Older"})
    stale = Envelope(
        type="practice.upserted",
        source="enrolment@b",
        practice="fysio",
        subject="fysio",
        data=older.model_dump(mode="json"),
    )
    await _send(zone, "directory.practices", stale.model_dump_json().encode())
    await wait_for(lambda: applied(pool, [stale.id]))
    assert await pool.fetchval("SELECT name FROM practices") == "Renamed", "last writer wins"


def test_cli_migrate_and_bootstrap(cluster: Cluster) -> None:
    settings = cluster.settings("a")
    import asyncio

    from shared.db import ensure_database

    asyncio.run(ensure_database(settings.database_url))
    env = {
        **os.environ,
        "TWEESTAP_DATABASE_URL": settings.database_url,
        "TWEESTAP_SEALING_KEYS": SEALING,
        "TWEESTAP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
    }
    cli = [sys.executable, "-m", "services.cli"]
    first = subprocess.run(
        [*cli, "migrate", "--service", "auth"], env=env, capture_output=True, text=True, check=True
    )
    assert "auth/001_init.sql" in first.stdout
    again = subprocess.run(
        [*cli, "migrate", "--service", "auth"], env=env, capture_output=True, text=True, check=True
    )
    assert "up to date" in again.stdout
    boot = subprocess.run(
        [*cli, "bootstrap", "--practice", "cli-test", "--name", "CLI Praktijk"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "administrator admin" in boot.stdout and "password: " in boot.stdout
    twice = subprocess.run(
        [*cli, "bootstrap", "--practice", "cli-test", "--name", "CLI Praktijk"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert twice.returncode != 0 and "already" in (twice.stdout + twice.stderr)
