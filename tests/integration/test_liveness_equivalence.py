"""The liveness state in memory answers as PostgreSQL does, for any events (docs/adr/0015).

Per example: a list of events (hypothesis) — revocations, cutoffs, employees written, moved
out of service, demoted or deleted, practices' two-factor rule switched or the practice
gone — written to a real auth database (the real migrations and triggers) by the real write
functions or plain SQL, one transaction each; a :class:`Liveness` listening on that database
hears them. Once a heartbeat sent after the last write has come back, for every token (any
practice, employee, session and SSO session), the state's row equals the row of the gate's
statement, and the renewal rules on it equal the renewal statement's answer. Between examples
the tables are truncated (which the state hears too)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.auth.adapters import repository as repo
from services.dev.infra import Postgres
from services.registry import SERVICES
from shared import replicas
from shared.db import create_pool, ensure_database, migrate
from shared.gate import session_state_sql
from shared.liveness import Liveness, renewable
from tests.support.cluster import wait_for

COLUMNS = ("username", "name", "email")
PRACTICES = ("p1", "p2")
EMPLOYEES = ("e1", "e2")
SIDS = ("s1", "s2", "s3")
T0 = datetime.now(UTC).replace(microsecond=0)
EXAMPLES = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Db:
    pool: asyncpg.Pool
    liveness: Liveness


@pytest.fixture(scope="module")
async def db(postgres: Postgres) -> AsyncIterator[Db]:
    dsn = postgres.socket_dsn("liveness_equivalence")
    await ensure_database(dsn)
    await migrate(dsn, "auth", SERVICES["auth"].migrations)
    pool = await create_pool(dsn, 1, 2)
    liveness = Liveness(lambda: asyncpg.connect(dsn), COLUMNS, 0.5)
    task = asyncio.create_task(liveness.run())

    async def current() -> bool:
        return liveness.current()

    await wait_for(current, what="the state current")
    yield Db(pool, liveness)
    task.cancel()
    await pool.close()


# -- events -----------------------------------------------------------------------------------

#: Times to the microsecond, close together: a cutoff equal to a session's start matters.
micros = st.integers(-1, 1).map(lambda us: T0 + timedelta(microseconds=us))
practice = st.sampled_from(PRACTICES)
employee = st.sampled_from(EMPLOYEES)
events = st.one_of(
    st.tuples(
        st.just("revoke"),
        st.sampled_from(SIDS),
        practice,
        employee,
        st.integers(1, 48).map(lambda h: T0 + timedelta(hours=h)),
    ),
    st.tuples(st.just("cutoff"), practice, employee, micros),
    st.tuples(
        st.just("employee"),
        practice,
        employee,
        st.booleans(),
        st.integers(1, 4),
        st.sampled_from(["Anna", "Bram", "Ça va"]),
        st.sampled_from([None, "a@example.nl"]),
    ),
    st.tuples(st.just("no employee"), practice, employee),
    st.tuples(st.just("practice"), practice, st.booleans()),
    st.tuples(st.just("no practice"), practice),
)


async def _write(conn: asyncpg.Connection, event: tuple[Any, ...]) -> None:
    kind, *rest = event
    if kind == "revoke":
        sid, p, e, ends = rest
        await replicas.add_revocation(conn, sid, p, e, T0, ends)
    elif kind == "cutoff":
        p, e, before = rest
        await replicas.raise_cutoff(conn, p, e, before)
    elif kind == "employee":
        p, e, in_service, group, name, email = rest
        await conn.execute(
            """INSERT INTO employees (practice, id, username, username_key, name, email,
                                      rights_group, in_service, version, updated_at, zone)
               VALUES ($1, $2, $2, $2, $3, $4, $5, $6, 1, now(), 'a')
               ON CONFLICT (practice, id) DO UPDATE SET name = $3, email = $4,
                   rights_group = $5, in_service = $6""",
            p,
            e,
            name,
            email,
            group,
            in_service,
        )
    elif kind == "no employee":
        await conn.execute("DELETE FROM employees WHERE practice = $1 AND id = $2", *rest)
    elif kind == "practice":
        p, two_factor = rest
        await conn.execute(
            """INSERT INTO practices (id, name, two_factor_required, policy, version,
                                      updated_at, zone)
               VALUES ($1, $1, $2, '{}', 1, now(), 'a')
               ON CONFLICT (id) DO UPDATE SET two_factor_required = $2""",
            p,
            two_factor,
        )
    else:
        await conn.execute("DELETE FROM practices WHERE id = $1", *rest)


async def _heard_everything(liveness: Liveness) -> None:
    """Until a heartbeat sent after now has come back: every write before is applied."""
    written = time.monotonic()

    async def proven() -> bool:
        return liveness.proven_at() > written

    await wait_for(proven, timeout=5.0, interval=0.01, what="a heartbeat after the writes")


@EXAMPLES
@given(st.lists(events, min_size=2, max_size=12))
async def test_memory_answers_as_postgres(db: Db, written: list[tuple[Any, ...]]) -> None:
    async with db.pool.acquire() as conn:
        await conn.execute("TRUNCATE revocations, session_cutoffs, employees, practices")
        for event in written:
            await _write(conn, event)
        await _heard_everything(db.liveness)
        state = db.liveness.state
        now = datetime.now(UTC)
        sql = session_state_sql(COLUMNS)
        for p, e, sid, sso in itertools.product(PRACTICES, EMPLOYEES, SIDS, SIDS):
            found = await conn.fetchrow(sql, p, e, sid, sso)
            held = state.row(p, e, sid, sso, now)
            if held is None:
                # Only what memory does not hold goes to the database.
                assert found is None or (p not in state.practices) or (p, e) not in state.employees
                continue
            assert found is not None and dict(found) == held, (p, e, sid, sso)
            for auth_time, single_factor in itertools.product(
                [T0 + timedelta(microseconds=us) for us in (-2, -1, 0, 1, 2)], (False, True)
            ):
                renewal = await repo.renew_session(
                    conn, p, e, sid, None, single_factor, auth_time, sso
                )
                assert renewal is not None
                assert renewable(held, single_factor, auth_time) is renewal["live"], (
                    p,
                    e,
                    sid,
                    sso,
                    auth_time,
                    single_factor,
                )
                assert renewal["rights_group"] == held["rights_group"]
