"""The end-state checks of services/dev/convergence.py against the running deployment: after
ordinary activity in both zones every check holds; each then fails on what it is there to find
(a replicated row changed in one zone's database, an audit event missing in one zone, a dead
letter of a genuine event, a held service and an outbox row it cannot send). What a test
changes by hand it puts back in a ``finally``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer
from tweestap_client import TweestapClient

from services.dev.convergence import Check, check_converged
from services.dev.deployment import Deployment
from shared.bus_tags import BusTags
from shared.sealing import Keyring
from tests.support.deployment import (
    NEW_PASSWORD,
    Account,
    auth_zones,
    change_password,
    fetch_rows,
    log,
    new_account,
    wait_until,
)

#: Long enough for replication after ordinary activity on a busy machine (not a target).
SETTLE_SECONDS = 60.0
#: A check that is meant to fail need not wait for anything.
NO_WAIT = 0.0
#: After the activity, settle until every outbox is sent: a row younger than the default
#: bound is no violation, so the checks could hold before zone b's last edit has left it.
SENT = 0.0


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def _password_in_both(deployment: Deployment, account: Account) -> bool:
    """Whether zone b holds the credential zone a wrote last (a login there may use it)."""
    query = (
        "SELECT version, updated_at, zone FROM credentials WHERE practice = $1 AND employee = $2"
    )
    a, b = [
        await fetch_rows(deployment.dsn("auth", z), query, account.practice, account.employee)
        for z in ("a", "b")
    ]
    return bool(a) and [tuple(r) for r in a] == [tuple(r) for r in b]


async def _activity(deployment: Deployment) -> Account:
    """A login and a password change in zone a, an administrator's edits in zone b."""
    zones = auth_zones(deployment)
    account = await new_account(deployment, "converge")
    async with TweestapClient([zones[0]]) as in_a:
        step = await in_a.login(account.practice, account.username, account.password)
        assert step.next == "done", step.body
        await change_password(in_a, account)
    await wait_until(lambda: _password_in_both(deployment, account), "password in b", 30.0)
    async with TweestapClient([zones[1]]) as in_b:
        step = await in_b.login(account.practice, account.username, NEW_PASSWORD)
        assert step.next == "done", step.body
        practice = f"/v1/practices/{account.practice}"
        answer = await in_b.request(
            "enrolment",
            "PUT",
            f"{practice}/employees/colleague",
            json={"username": "collega", "name": "Nieuwe Collega"},
        )
        assert answer.status in (200, 201), answer.body
        answer = await in_b.request(
            "enrolment", "PUT", practice, json={"password_policy": {"max_attempts": 7}}
        )
        assert answer.status == 200, answer.body
    return account


async def test_after_ordinary_activity_every_check_holds(deployment: Deployment) -> None:
    await _activity(deployment)
    started = time.monotonic()
    checks = await check_converged(
        deployment, settle_seconds=SETTLE_SECONDS, outbox_bound_seconds=SENT
    )
    took = time.monotonic() - started
    assert [c.name for c in checks] == [
        "replicated-tables-identical",
        "audit-exactly-once",
        "no-genuine-dead-letters",
        "outbox-drained",
        "every-process-serving",
        "no-consumer-stuck",
    ]
    log.info("converged after %.1f s; one evaluation's figures: %s", took, checks)
    # Once converged, one evaluation of every check (what a chaos run's end costs at least).
    started = time.monotonic()
    await check_converged(deployment, settle_seconds=NO_WAIT)
    log.info("one evaluation of every check: %.2f s", time.monotonic() - started)
    assert {c.name: c.violations for c in checks if c.violations} == {}
    tables = checks[0].detail
    assert tables["auth.employees"]["rows"][0] >= 2
    audit = checks[1].detail
    assert 1 <= audit["on_bus"] <= audit["events_a"] == audit["events_b"]
    assert tables["enrolment.audit_events"]["rows"][0] >= 1


async def test_a_row_changed_in_one_zone_is_named_by_table_and_key(
    deployment: Deployment,
) -> None:
    account = await _activity(deployment)
    await check_converged(deployment, settle_seconds=SETTLE_SECONDS, outbox_bound_seconds=SENT)
    conn = await asyncpg.connect(deployment.dsn("auth", "b"))
    try:
        name = await conn.fetchval(
            "UPDATE employees SET name = name || ' (changed)' WHERE practice = $1 AND id = $2 "
            "RETURNING name",
            account.practice,
            account.employee,
        )
        assert name is not None
        try:
            checks = _by_name(await check_converged(deployment, settle_seconds=NO_WAIT))
        finally:
            await conn.execute(
                "UPDATE employees SET name = left(name, length(name) - 10) "
                "WHERE practice = $1 AND id = $2",
                account.practice,
                account.employee,
            )
    finally:
        await conn.close()
    key = json.dumps([account.practice, account.employee])
    assert checks["replicated-tables-identical"].violations == [
        f"auth.employees: a and b differ: {key} (differs)"
    ]
    after = _by_name(await check_converged(deployment, settle_seconds=SETTLE_SECONDS))
    assert after["replicated-tables-identical"].violations == []


async def test_an_audit_event_missing_in_one_zone_is_reported(deployment: Deployment) -> None:
    await _activity(deployment)
    await check_converged(deployment, settle_seconds=SETTLE_SECONDS, outbox_bound_seconds=SENT)
    # An event both zones recorded (one recorded in a after the settle may not be in b yet).
    in_b = await asyncpg.connect(deployment.dsn("enrolment", "b"))
    try:
        shared_event = await in_b.fetchval(
            "SELECT event_id FROM audit_events ORDER BY recorded_at DESC LIMIT 1"
        )
    finally:
        await in_b.close()
    conn = await asyncpg.connect(deployment.dsn("enrolment", "a"))
    try:
        async with conn.transaction():
            # The retention purge's way past the append-only trigger (migration 005).
            await conn.execute("SET LOCAL tweestap.audit_purge = 'on'")
            row = await conn.fetchrow(
                "DELETE FROM audit_events WHERE event_id = $1 RETURNING *", shared_event
            )
        assert row is not None
        try:
            checks = _by_name(await check_converged(deployment, settle_seconds=NO_WAIT))
        finally:
            columns = list(row.keys())
            await conn.execute(
                f"INSERT INTO audit_events ({', '.join(columns)}) "  # noqa: S608 - its own names
                f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
                *row.values(),
            )
    finally:
        await conn.close()
    event = str(row["event_id"])
    audit = checks["audit-exactly-once"]
    assert len(audit.violations) == 2, (event, row["action"], audit.violations, audit.detail)
    lost, other_zone = audit.violations
    assert lost.startswith(f"1 auditable events on the bus missing in enrolment-a: {event} (")
    assert other_zone == f"1 audit events of enrolment-b missing in enrolment-a: {event}"
    tables = checks["replicated-tables-identical"].violations
    assert tables == [f'enrolment.audit_events: a and b differ: ["{event}"] (only in b)']


async def test_a_genuine_dead_letter_is_reported_a_forged_one_is_not(
    deployment: Deployment,
) -> None:
    """Rows as shared/consumer.py writes them: a handler that failed on a Tweestap event, and a
    record refused for lacking a valid tag."""
    conn = await asyncpg.connect(deployment.dsn("certs", "b"))
    offset = 10**12 + uuid.uuid4().int % 10**9  # beyond any real record's
    reasons = {
        offset: "certificate.upserted: ValueError: boom (failed 3 of 3 attempts)",
        offset + 1: "factor.credential: no valid tweestap-tag: not written by Tweestap (DESIGN §9)",
    }
    try:
        for at, reason in reasons.items():
            await conn.execute(
                'INSERT INTO dead_letters (consumer, topic, partition, "offset", reason, raw) '
                "VALUES ('convergence-test', 'certs.events', 0, $1, $2, NULL)",
                at,
                reason,
            )
        checks = _by_name(await check_converged(deployment, settle_seconds=NO_WAIT))
    finally:
        await conn.execute("DELETE FROM dead_letters WHERE consumer = 'convergence-test'")
        await conn.close()
    dead = checks["no-genuine-dead-letters"]
    assert dead.violations == [
        f"certs-b: convergence-test dead-lettered certs.events:0:{offset}: {reasons[offset]}"
    ]


async def _dead_letters_of(deployment: Deployment, values: list[bytes]) -> list[asyncpg.Record]:
    """The dead letters in every database whose stored record is one of ``values``."""
    rows: list[asyncpg.Record] = []
    for zone in deployment.zones:
        for service in deployment.services:
            rows += await fetch_rows(
                deployment.dsn(service, zone),
                'SELECT topic, partition, "offset", raw FROM dead_letters WHERE raw = ANY($1)',
                values,
            )
    return rows


async def test_a_dead_letter_of_a_tagged_record_is_genuine_an_untagged_one_is_not(
    deployment: Deployment,
) -> None:
    """Two records no consumer can read (not an envelope) on certs.events: one with the tag
    only Tweestap's writers can make, one without. Both are dead-lettered by the same reason;
    the broker still has them, so their tags are checked: only the tagged one is reported."""
    topic, key = "certs.events", b"convergence-test"
    tagged = f"tagged {uuid.uuid4()}".encode()
    untagged = f"untagged {uuid.uuid4()}".encode()
    tags = BusTags(Keyring.parse(deployment.sealing_keys))
    producer = AIOKafkaProducer(bootstrap_servers=deployment.broker_bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            topic, tagged, key=key, headers=tags.headers(topic, key, tagged)
        )
        other = await producer.send_and_wait(topic, untagged, key=key)
    finally:
        await producer.stop()
    try:
        # Every zone's auth and certs read certs.events (auth with more than one consumer).
        await wait_until(
            lambda: _counted(_dead_letters_of(deployment, [tagged, untagged]), 8),
            "both records dead-lettered by auth and certs in both zones",
            30.0,
        )
        checks = _by_name(await check_converged(deployment, settle_seconds=NO_WAIT))
        letters = await _dead_letters_of(deployment, [tagged])
    finally:
        for zone in deployment.zones:
            for service in deployment.services:
                await fetch_rows(
                    deployment.dsn(service, zone),
                    "DELETE FROM dead_letters WHERE raw = ANY($1) RETURNING id",
                    [tagged, untagged],
                )
    dead = checks["no-genuine-dead-letters"]
    place = f"{topic}:{sent.partition}:{sent.offset}"
    assert len(dead.violations) == len(letters) >= 4, dead.violations
    assert all(place in v and "not an event envelope" in v for v in dead.violations)
    assert f"{topic}:{other.partition}:{other.offset}" not in " ".join(dead.violations)
    assert dead.detail["untagged"] >= 4


async def _counted(rows: Awaitable[list[asyncpg.Record]], n: int) -> bool:
    return len(await rows) >= n


async def test_a_held_service_and_its_unsent_outbox_row_are_reported(
    deployment: Deployment,
) -> None:
    """The notifier of zone b held: it does not serve, and an outbox row written while it is
    down (an hour old) waits unsent. The row is removed before the notifier comes back, so it
    is never published."""
    old = datetime.now(UTC) - timedelta(hours=1)
    deployment.hold("notifier", "b")
    try:
        conn = await asyncpg.connect(deployment.dsn("notifier", "b"))
        try:
            event = uuid.uuid4()
            await conn.execute(
                "INSERT INTO outbox (id, topic, key, payload, created_at) "
                "VALUES ($1, 'convergence-test', 'k', '{}', $2)",
                event,
                old,
            )
            try:
                checks = _by_name(
                    await check_converged(
                        deployment, settle_seconds=NO_WAIT, outbox_bound_seconds=30.0
                    )
                )
            finally:
                await conn.execute("DELETE FROM outbox WHERE id = $1", event)
        finally:
            await conn.close()
    finally:
        deployment.release("notifier", "b")
    serving = checks["every-process-serving"].violations
    assert len(serving) == 1 and serving[0].startswith("notifier-b: /readyz unreachable"), serving
    outbox = checks["outbox-drained"].violations
    assert len(outbox) == 1 and outbox[0].startswith("notifier-b: 1 outbox rows older than 30 s")
    assert "notifier-b: /metrics unreachable" in checks["no-consumer-stuck"].violations
    assert checks["replicated-tables-identical"].violations == []
