"""Hardening II finding 19: the audit trail is append-only against the services themselves
(NEN 7513, DESIGN §5). A service connects as its own role (``TWEESTAP_DATABASE_URL``), which
may add and read audit records but not update, delete, truncate them or switch their trigger
off (it does not own the table); the tables' owner (``TWEESTAP_DATABASE_OWNER_URL``) runs the
migrations and the retention purge. With one role for both, everything works as before and the
service says at start that the trail is not protected against it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from services.dev.infra import SERVICE_ROLE
from services.enrolment.http import AUDIT
from services.enrolment.settings import MIN_AUDIT_RETENTION_DAYS
from services.enrolment.use_cases.audit import AuditTrail
from shared.db import ONE_ROLE_WARNING
from shared.events import utcnow
from shared.http import RUNTIME
from tests.support.cluster import Cluster, Zone

OLD = timedelta(days=MIN_AUDIT_RETENTION_DAYS + 1)


async def insert(conn: asyncpg.Connection, age: timedelta = timedelta(0)) -> uuid.UUID:
    event = uuid.uuid4()
    await conn.execute(
        """INSERT INTO audit_events (event_id, practice, time, action, outcome, object_type,
               object_id, source)
           VALUES ($1, 'fysio', $2, 'login.failed', 'failure', 'employee', 'x', 'auth@a')""",
        event,
        utcnow() - age,
    )
    return event


async def trail_alone(zone: Zone) -> AuditTrail:
    """The service's audit trail with its retention job stopped, so that a purge the test
    makes is the only one (the job's first pass runs at start and could take the old record
    first)."""
    for task in zone.app[RUNTIME].supervisor.tasks:
        if task.get_name() == "audit-retention":
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    trail: AuditTrail = zone.app[AUDIT]
    return trail


async def count(zone: Zone) -> int:
    found: int = await zone.app[RUNTIME].pool.fetchval("SELECT count(*) FROM audit_events")
    return found


#: What the service's role tries: each must fail for lack of privilege, not by the trigger.
ATTEMPTS: dict[str, Callable[[asyncpg.Connection], Awaitable[Any]]] = {
    "update": lambda c: c.execute("UPDATE audit_events SET action = 'login.succeeded'"),
    "delete": lambda c: c.execute("DELETE FROM audit_events"),
    "delete as the purge": lambda c: c.execute(
        "SET LOCAL tweestap.audit_purge = 'on'; DELETE FROM audit_events"
    ),
    "truncate": lambda c: c.execute("TRUNCATE audit_events"),
    "disable the trigger": lambda c: c.execute(
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"
    ),
    "drop the trigger": lambda c: c.execute(
        "DROP TRIGGER audit_events_append_only ON audit_events"
    ),
    "drop the table": lambda c: c.execute("DROP TABLE audit_events"),
}


async def test_the_service_role_adds_and_reads_audit_records_but_cannot_change_them(
    cluster: Cluster,
) -> None:
    enrol = await cluster.start("a", "enrolment")
    pool: asyncpg.Pool = enrol.app[RUNTIME].pool
    async with pool.acquire() as conn:
        role = await conn.fetchval("SELECT current_user")
        owner = await conn.fetchval(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'"
        )
        assert role != owner, f"the service connects as the audit table's owner {owner}"
        kept = await insert(conn)
        assert await conn.fetchval("SELECT 1 FROM audit_events WHERE event_id = $1", kept)
        for name, attempt in ATTEMPTS.items():
            with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
                async with conn.transaction():
                    await attempt(conn)
            assert "append-only" not in str(refused.value), f"{name}: refused by the trigger"
        # Every other table stays the service's to write (the grants, not only the audit's).
        await conn.execute("DELETE FROM inbox WHERE consumer = 'nobody'")
    assert await count(enrol) == 1

    # The retention job purges as the tables' owner.
    trail = await trail_alone(enrol)
    async with pool.acquire() as conn:
        old = await insert(conn, OLD)
    assert await trail.purge() == 1
    assert await count(enrol) == 1
    assert not await pool.fetchval("SELECT 1 FROM audit_events WHERE event_id = $1", old)


async def test_a_table_made_later_by_the_owner_is_the_service_roles_to_write(
    cluster: Cluster,
) -> None:
    """Default privileges: what a later migration creates needs no grant of its own."""
    enrol = await cluster.start("a", "enrolment")
    owner = await asyncpg.connect(enrol.settings.database_owner_url)
    try:
        await owner.execute("CREATE TABLE later (id bigserial PRIMARY KEY, note text)")
    finally:
        await owner.close()
    pool: asyncpg.Pool = enrol.app[RUNTIME].pool
    await pool.execute("INSERT INTO later (note) VALUES ('x')")
    assert await pool.fetchval("UPDATE later SET note = 'y' RETURNING id") == 1


async def test_one_role_works_as_before_and_says_the_trail_is_not_protected(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    """No owner URL: the service's one role migrates, writes and purges; it is told."""
    superuser = cluster.postgres.socket_dsn(cluster.database("a", "enrolment"))
    with caplog.at_level("WARNING", logger="shared.db"):
        enrol = await cluster.start("a", "enrolment", database_url=superuser)
    warned = [r for r in caplog.records if r.getMessage() == ONE_ROLE_WARNING]
    assert len(warned) == 1, [r.getMessage() for r in caplog.records]
    assert enrol.settings.database_owner_url is None
    pool: asyncpg.Pool = enrol.app[RUNTIME].pool
    assert await pool.fetchval("SELECT current_user") != SERVICE_ROLE
    trail = await trail_alone(enrol)
    async with pool.acquire() as conn:
        kept = await insert(conn)
        await insert(conn, OLD)
        # The trigger still refuses a plain UPDATE (append-only, if not against its owner).
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE audit_events SET action = 'login.succeeded'")
    assert await trail.purge() == 1
    assert await pool.fetchval("SELECT event_id FROM audit_events") == kept
