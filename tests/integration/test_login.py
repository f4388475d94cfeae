"""Password login on real PostgreSQL and the real broker: happy path and every error path."""

from __future__ import annotations

import json
import statistics

from shared.events import utcnow
from shared.topics import DIRECTORY_EMPLOYEES
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.factors import emit
from tests.support.practices import set_policy
from tests.support.tokens import verify_with_jwks

PROBLEM = "application/problem+json"


async def test_login_issues_verifiable_aal1_token(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    status, body = await login(zone, "fysio", "Admin", ADMIN_PASSWORD)
    assert status == 200, body
    assert body["next"] == "done" and body["factors"] == []
    jwks = await (await zone.client.get("/.well-known/jwks.json")).json()
    claims = verify_with_jwks(body["token"]["token"], jwks)
    assert claims["sub"] == employee and claims["practice"] == "fysio" and claims["rg"] == 1
    assert claims["amr"] == ["pwd"] and claims["aal"] == "aal1" and claims["zone"] == "a"
    assert claims["exp"] - claims["iat"] == zone.settings.token_lifetime_seconds
    assert claims["auth_time"] == claims["iat"] and claims["sid"]
    assert {"iss", "sid", "auth_time"} <= claims.keys()


async def test_wrong_password_unknown_user_and_unknown_practice_answer_alike(
    cluster: Cluster,
) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    answers = [
        await login(zone, "fysio", "admin", "wrong-password"),
        await login(zone, "fysio", "nobody", ADMIN_PASSWORD),
        await login(zone, "no-such-practice", "admin", ADMIN_PASSWORD),
    ]
    for status, body in answers:
        assert status == 401
        assert body["type"].endswith("/invalid-credentials")
    assert answers[0][1] == answers[1][1] == answers[2][1]


async def test_unknown_user_costs_the_same_argon2_work(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)

    def argon2_cpu() -> float:
        # The hashing threads' own CPU time: the work, not the wall clock of a loaded machine.
        metrics = zone.auth.metrics
        value = metrics.registry.get_sample_value(
            "tweestap_argon2_cpu_seconds_total", metrics.base()
        )
        return float(value or 0.0)

    async def timed(username: str, n: int) -> float:
        times = []
        for i in range(n):
            # a different username each time for the unknown user, so lockout never kicks in
            name = username if username == "admin" else f"{username}{i}"
            before = argon2_cpu()
            status, _ = await login(zone, "fysio", name, "wrong" if i % 2 else "also-wrong")
            times.append(argon2_cpu() - before)
            assert status == 401
        return statistics.median(times)

    known = await timed("admin", 4)
    unknown = await timed("ghost", 4)
    assert 0.5 < unknown / known < 2.0, (known, unknown)


async def test_lockout_known_and_unknown_users_and_its_duration(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    await set_policy(zone, "fysio", 2, max_attempts=3, lockout_seconds=2)
    for username in ("admin", "ghost"):
        for _ in range(3):
            status, _ = await login(zone, "fysio", username, "wrong")
            assert status == 401
        status, body = await login(zone, "fysio", username, ADMIN_PASSWORD)
        assert status == 429 and body["type"].endswith("/account-locked")
        assert 1 <= body["retry_after"] <= 3
    locked = await zone.client.post(
        "/v1/login", json={"practice": "fysio", "username": "admin", "password": ADMIN_PASSWORD}
    )
    assert locked.headers["Retry-After"]
    await wait_for(lambda: _ok_login(zone), timeout=5, interval=0.5)
    left = await zone.auth.pool.fetch("SELECT username FROM login_failures")
    assert {r["username"] for r in left} == {"ghost"}, "a success resets only its own failures"


async def _ok_login(zone: Zone) -> bool:
    status, _ = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    return status == 200


async def test_out_of_service_employee_cannot_log_in(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    row = await zone.auth.pool.fetchrow("SELECT * FROM employees WHERE id = $1", employee)
    data = {
        "employee": employee,
        "username": row["username"],
        "name": row["name"],
        "rights_group": 1,
        "in_service": False,
        "version": 2,
        "updated_at": utcnow().isoformat(),
        "zone": "a",
    }
    await emit(
        zone,
        DIRECTORY_EMPLOYEES,
        "employee.upserted",
        employee,
        data,
        practice="fysio",
        source="test@a",
    )

    async def out() -> bool:
        return not await zone.auth.pool.fetchval(
            "SELECT in_service FROM employees WHERE id = $1", employee
        )

    await wait_for(out)
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 403 and body["type"].endswith("/account-disabled")


async def test_bad_requests_get_problems_and_change_nothing(cluster: Cluster) -> None:
    zone = await cluster.start("a", max_request_bytes=4096)
    await cluster.bootstrap(zone)
    pool = zone.auth.pool

    async def snapshot() -> tuple[int, int, int]:
        return (
            await pool.fetchval("SELECT count(*) FROM login_failures"),
            await pool.fetchval("SELECT count(*) FROM logins"),
            await pool.fetchval("SELECT count(*) FROM credentials"),
        )

    before = await snapshot()
    cases = [
        (b"{not json", "application/json", 400, "malformed-json"),
        (b'{"practice": "fysio"}', "application/json", 422, "invalid-request"),
        (b"practice=fysio", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
        (
            json.dumps({"practice": "fysio", "username": "admin", "password": "x" * 9000}).encode(),
            "application/json",
            413,
            "payload-too-large",
        ),
        (
            json.dumps({"practice": "../etc", "username": "a", "password": "b"}).encode(),
            "application/json",
            422,
            "invalid-request",
        ),
        (
            json.dumps(
                {"practice": "fysio", "username": "admin", "password": "p", "extra": 1}
            ).encode(),
            "application/json",
            422,
            "invalid-request",
        ),
    ]
    for raw, content_type, status, slug in cases:
        response = await zone.client.post(
            "/v1/login", data=raw, headers={"Content-Type": content_type}
        )
        assert response.status == status, (raw[:40], response.status)
        assert response.content_type == PROBLEM
        body = await response.json(content_type=None)
        assert body["type"].endswith(f"/{slug}") and body["status"] == status
        assert "x" * 100 not in json.dumps(body)
    secret = await zone.client.post(
        "/v1/login",
        json={"practice": "fysio", "username": "admin", "password": 123456789},
    )
    assert "123456789" not in await secret.text()
    missing = await zone.client.get("/v1/nowhere")
    assert missing.status == 404 and missing.content_type == PROBLEM
    assert await snapshot() == before
