"""The liveness state in memory (shared/liveness.py, docs/adr/0015) against real PostgreSQL and
a running auth: it answers introspection and renewal without the database while it can prove
it is current, sees a logout of this process at once and the other zone's within the bound of
today, falls back to the database when its listening connection is killed, and recovers."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg

from shared import replicas
from shared.events import utcnow
from shared.liveness import Liveness
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, known, login, wait_for
from tests.support.tokens import bearer, introspect, renew


def _liveness(zone: Zone) -> Liveness:
    found = zone.auth.gate.liveness
    assert found is not None, "auth keeps the liveness state by default"
    return found


async def _current(zone: Zone) -> Liveness:
    liveness = _liveness(zone)

    async def current() -> bool:
        return liveness.current()

    await wait_for(current, what="the liveness state current")
    return liveness


async def test_introspection_and_renewal_are_answered_from_memory(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    token = body["token"]["token"]
    liveness = await _current(zone)
    before = (liveness.answered, liveness.fell_back)
    assert (await introspect(zone, token))["active"] is True
    status, renewed = await renew(zone, token)
    assert status == 200
    assert liveness.answered == before[0] + 2 and liveness.fell_back == before[1]
    # A logout is refused by the very next request, before its message has arrived.
    response = await zone.client.post("/v1/tokens/revoke", headers=bearer(renewed["token"]))
    assert response.status == 204
    assert (await introspect(zone, token))["active"] is False
    status, problem = await renew(zone, token)
    assert status == 401 and problem["type"].endswith("/session-revoked")

    async def from_memory_again() -> bool:
        answered = liveness.answered
        refused = (await introspect(zone, token))["active"] is False
        return refused and liveness.answered == answered + 1

    await wait_for(from_memory_again, what="the revocation answered from memory")


async def test_a_killed_listener_falls_back_to_the_database_then_recovers(
    cluster: Cluster,
) -> None:
    zone = await cluster.start("a", liveness_max_staleness_seconds=0.4)
    employee = await cluster.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    token = body["token"]["token"]
    liveness = await _current(zone)
    killed = liveness.backend_pid()
    assert killed is not None
    async with zone.auth.pool.acquire() as conn:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", killed)
        # Written while nobody listens, by another process (its consumer, say): a cutoff.
        await conn.execute(
            "INSERT INTO session_cutoffs (practice, employee, before) VALUES ('fysio', $1, $2)",
            employee,
            utcnow(),
        )

    async def not_current() -> bool:
        return not liveness.current()

    await wait_for(not_current, timeout=2.0, what="the state knows it is not current")
    fell_back = liveness.fell_back
    assert (await introspect(zone, token))["active"] is False, "the database answers"
    assert liveness.fell_back > fell_back
    await _current(zone)
    assert liveness.backend_pid() not in (None, killed), "a new listening connection"
    answered = liveness.answered
    assert (await introspect(zone, token))["active"] is False, "reloaded: the cutoff is known"
    assert liveness.answered == answered + 1
    _, fresh = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert (await introspect(zone, fresh["token"]["token"]))["active"] is True


async def test_a_change_by_any_writer_reaches_every_process_of_the_database(
    cluster: Cluster,
) -> None:
    """A second process of the same database (here: a second state on it) hears a revocation,
    a demotion and a practice's two-factor rule written on any connection."""
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    liveness = await _current(zone)
    other = Liveness(lambda: asyncpg.connect(zone.settings.database_url), (), 0.5)
    task = asyncio.create_task(other.run())
    try:
        await wait_for(lambda: known(other.current()), what="a second state current")
        now = utcnow()
        async with zone.auth.pool.acquire() as conn:
            await replicas.add_revocation(
                conn, "sid-x", "fysio", employee, now, now + timedelta(hours=1)
            )
            await conn.execute(
                "UPDATE employees SET rights_group = 3 WHERE practice = 'fysio' AND id = $1",
                employee,
            )
            await conn.execute("UPDATE practices SET two_factor_required = true")
        for state in (liveness, other):

            async def heard(state: Liveness = state) -> bool:
                # The practice's change committed last: its message is the last to arrive.
                row = state.state.row("fysio", employee, "sid-x", "sid-x", utcnow())
                changed = row and row["revoked"] and row["rights_group"] == 3
                return bool(changed and row and row["two_factor_required"])

            await wait_for(heard, timeout=2.0, what="the changes heard")
            assert state.state.practices["fysio"] is True
    finally:
        task.cancel()


async def test_a_revocation_in_the_other_zone_is_refused_within_a_second(
    cluster: Cluster,
) -> None:
    """The bound of today (bench failover: revocation seen by the other zone, p99 ≤ 1 s), with
    zone b answering from memory: the worst of ten revocations."""
    a = await cluster.start("a")
    b = await cluster.start("b")
    await cluster.bootstrap(a)
    await _current(b)
    seen: list[float] = []
    for _ in range(10):
        _, body = await login(a, "fysio", "admin", ADMIN_PASSWORD)
        token = body["token"]["token"]
        assert (await introspect(b, token))["active"] is True
        revoked = time.monotonic()
        response = await a.client.post("/v1/tokens/revoke", headers=bearer(token))
        assert response.status == 204

        async def refused_in_b(token: str = token) -> bool:
            status, _ = await renew(b, token)
            return status == 401

        await wait_for(refused_in_b, timeout=5.0, interval=0.01)
        seen.append(time.monotonic() - revoked)
    assert _liveness(b).answered > 0
    assert max(seen) <= 1.0, f"seconds until refused in zone b: {sorted(seen)}"
