"""One bad record never stops a consumer (issue 10, finding 13).

Real auth, enrolment and certs of one zone, the real broker and PostgreSQL. A bad record is
produced straight to a topic, then a good one on the same partition: every consumer
dead-letters the bad one with its reason and applies the good one after it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.events import Envelope
from shared.trust import TrustSigner
from tests.support.bus import genuine
from tests.support.cluster import TRUST_PRIVATE, Cluster, Zone, metric, wait_for
from tests.support.forgery import forged_key, host_employee, key_event
from tests.support.services import Rig, rig

#: The fixture of tests.support.services (imported so that pytest finds it here).
FIXTURES = (rig,)

P = "fysio"


async def produce_in_order(rig: Rig | Cluster, topic: str, *events: Envelope) -> None:
    """Every event on partition 0 of ``topic``, in this order."""
    cluster = rig.cluster if isinstance(rig, Rig) else rig
    producer = AIOKafkaProducer(bootstrap_servers=cluster.broker.bootstrap)
    await producer.start()
    try:
        for event in events:
            full, value, key = (
                f"{cluster.prefix}{topic}",
                event.model_dump_json().encode(),
                event.key.encode(),
            )
            await producer.send_and_wait(
                full, value, key=key, partition=0, headers=genuine(full, key, value)
            )
    finally:
        await producer.stop()


async def dead_letter_reasons(rig: Rig, service: str, topic: str) -> list[str]:
    rows = await rig.pool(service).fetch(
        "SELECT reason FROM dead_letters WHERE topic = $1", rig.topic(topic)
    )
    return [r["reason"] for r in rows]


async def applied_everywhere(rig: Rig, sql: str, *args: Any) -> dict[str, bool]:
    return {s: bool(await rig.pool(s).fetchval(sql, *args)) for s in rig.zones}


async def test_a_malformed_signed_jwk_is_dead_lettered_and_later_keys_apply(rig: Rig) -> None:
    trust = TrustSigner(TRUST_PRIVATE)
    bad_kid, good_kid = f"a-{uuid.uuid4().hex[:8]}", f"a-{uuid.uuid4().hex[:8]}"
    malformed = {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": bad_kid}
    _, good_jwk = forged_key(good_kid)
    await produce_in_order(
        rig,
        "sts.keys",
        key_event(bad_kid, malformed, trust),
        key_event(good_kid, good_jwk, trust),
    )
    query = "SELECT EXISTS (SELECT 1 FROM public_keys WHERE kid = $1)"

    async def good_key_everywhere() -> bool:
        return all((await applied_everywhere(rig, query, good_kid)).values())

    try:
        await wait_for(good_key_everywhere, timeout=30)
    except AssertionError:
        raise AssertionError(
            f"the key after the malformed one: {await applied_everywhere(rig, query, good_kid)}"
        ) from None
    for service in rig.zones:
        reasons = await dead_letter_reasons(rig, service, "sts.keys")
        assert len(reasons) == 1 and "not an Ed25519" in reasons[0], (service, reasons)
        assert not await rig.pool(service).fetchval(query, bad_kid)
    dead = await rig.dead_letters_on_topic("sts.keys", 3)
    assert {e["data"]["consumer"] for e in dead} == set(rig.zones), dead


async def test_a_nul_in_an_employee_name_is_refused_and_later_upserts_apply(rig: Rig) -> None:
    bad = host_employee("nul", 1, 2)
    bad.data["name"] = "Piet\u0000de Vries"
    await produce_in_order(
        rig, "directory.employees", bad, host_employee("hanna", 1, 2), host_employee("joost", 1, 2)
    )
    query = "SELECT count(*) = 2 FROM employees WHERE practice = $1 AND id IN ('hanna', 'joost')"

    async def later_everywhere() -> bool:
        return all((await applied_everywhere(rig, query, P)).values())

    try:
        await wait_for(later_everywhere, timeout=30)
    except AssertionError:
        raise AssertionError(
            f"the upserts after the NUL one: {await applied_everywhere(rig, query, P)}"
        ) from None
    for service in rig.zones:
        # Each consumer of the topic refuses it once (enrolment has two: its directory and its
        # audit trail).
        rows = await rig.pool(service).fetch(
            "SELECT consumer, count(*) AS n, min(reason) AS reason FROM dead_letters"
            " WHERE topic = $1 GROUP BY consumer",
            rig.topic("directory.employees"),
        )
        assert rows and all(r["n"] == 1 for r in rows), (service, rows)
        assert all("name" in r["reason"] and "NUL" in r["reason"] for r in rows), rows

        async def gauge_says_so(zone: Zone = rig.zones[service], rows: Any = rows) -> bool:
            """Rows waiting for an operator show on the gauge the alert reads."""
            values = [
                await metric(zone, "tweestap_dead_letter_rows", consumer=r["consumer"])
                for r in rows
            ]
            return values == [1.0] * len(rows)

        await wait_for(gauge_says_so, timeout=15)
        assert not await rig.pool(service).fetchval(
            "SELECT count(*) FROM employees WHERE id = 'nul'"
        )


async def as_owner(zone: Zone, sql: str) -> None:
    """``sql`` as the tables' owner: a service's own database role owns none of them."""
    conn = await asyncpg.connect(zone.settings.database_owner_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_crashed_consumer_is_restarted_and_not_ready_while_down(cluster: Cluster) -> None:
    """A real fault the consumer cannot handle (its dead-letter table is gone): the task is
    restarted with backoff and counted, /readyz says 503 naming it, and once the operator puts
    the table back the bad record is dead-lettered and the next one applied."""
    zone = await cluster.start("a", task_restart_seconds=1.0, task_restart_max_seconds=4.0)
    await cluster.bootstrap(zone)
    ready = await zone.ops.get("/readyz")
    assert ready.status == 200, await ready.text()
    pool = zone.auth.pool
    await as_owner(zone, "ALTER TABLE dead_letters RENAME TO dead_letters_away")
    bad = host_employee("nul", 1, 2)
    bad.data["name"] = "nul\u0000"
    await produce_in_order(cluster, "directory.employees", bad, host_employee("hanna", 1, 2))

    async def not_ready() -> dict[str, Any] | None:
        response = await zone.ops.get("/readyz")
        body: dict[str, Any] = await response.json(content_type=None)
        return body if response.status == 503 else None

    try:
        down = await wait_for(not_ready, timeout=30)
    except AssertionError:
        raise AssertionError("/readyz stayed 200 while the consumer could not go on") from None
    assert down is not None
    assert down["checks"]["tasks"] is False, down
    assert "UndefinedTableError" in down["failing"]["auth-consumer"], down
    await as_owner(zone, "ALTER TABLE dead_letters_away RENAME TO dead_letters")

    async def hanna() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM employees WHERE id = 'hanna'"))

    await wait_for(hanna, timeout=30)
    reasons = await pool.fetch("SELECT reason FROM dead_letters")
    assert [r["reason"] for r in reasons] == [
        "not an event envelope: data: Value error, name: must not contain NUL (\\u0000)"
    ], reasons

    async def ready_again() -> bool:
        return (await zone.ops.get("/readyz")).status == 200

    await wait_for(ready_again, timeout=30)
    metrics = await (await zone.ops.get("/metrics")).text()
    restarts = [
        line
        for line in metrics.splitlines()
        if line.startswith("tweestap_task_restarts_total") and 'task="auth-consumer"' in line
    ]
    assert restarts and float(restarts[0].split()[-1]) >= 1, restarts


async def test_a_database_outage_never_dead_letters_a_good_record(cluster: Cluster) -> None:
    """The database refuses connections while a good event waits: the consumer retries it past
    any bounded number of attempts, readiness says no, and the event is applied afterwards."""
    zone = await cluster.start(
        "a", consumer_attempts=2, consumer_backoff_seconds=0.05, task_restart_seconds=0.5
    )
    await cluster.bootstrap(zone)
    pool = zone.auth.pool
    database = await pool.fetchval("SELECT current_database()")
    admin = await asyncpg.connect(cluster.postgres.socket_dsn("postgres"))
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database,
        )
        await produce_in_order(cluster, "directory.employees", host_employee("hanna", 1, 2))

        async def not_ready() -> bool:
            return (await zone.ops.get("/readyz")).status == 503

        await wait_for(not_ready, timeout=15)
        await asyncio.sleep(3)  # many times what two attempts with 0.05 s backoff take
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()

    async def hanna() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM employees WHERE id = 'hanna'"))

    await wait_for(hanna, timeout=60, interval=0.5)
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0

    async def ready_again() -> bool:
        return (await zone.ops.get("/readyz")).status == 200

    await wait_for(ready_again, timeout=30)
