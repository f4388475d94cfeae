"""Password policy at login and in the password endpoints: temporary, strength, history,
expiry; administrator rights and tenant isolation."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import ADMIN_PASSWORD, Cluster, login
from tests.support.practices import STRONG, STRONGER, admin_token, put_password, set_policy
from tests.support.tokens import change_own_password, introspect


async def test_temporary_password_must_change_at_next_login(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    token = await admin_token(zone)
    status, body = await put_password(zone, token, "fysio", employee, "tijdelijk1", True)
    assert status == 200 and body["must_change"] is True
    status, body = await login(zone, "fysio", "admin", "tijdelijk1")
    assert status == 200 and body["next"] == "change_password" and body.get("token") is None
    login_id = body["login_id"]
    weak = await zone.client.post(f"/v1/login/{login_id}/password", json={"new_password": "fysio"})
    problem = await weak.json(content_type=None)
    assert weak.status == 422 and problem["type"].endswith("/password-too-weak")
    assert problem["strength"] < problem["min_strength"]
    done = await zone.client.post(f"/v1/login/{login_id}/password", json={"new_password": STRONG})
    result = await done.json()
    assert done.status == 200 and result["next"] == "done" and result["token"]["token"]
    again = await zone.client.post(
        f"/v1/login/{login_id}/password", json={"new_password": STRONGER}
    )
    assert again.status == 404, "a completed login cannot be reused"
    status, _ = await login(zone, "fysio", "admin", "tijdelijk1")
    assert status == 401
    status, body = await login(zone, "fysio", "admin", STRONG)
    assert status == 200 and body["next"] == "done"


async def test_history_refuses_reuse(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    await set_policy(zone, "fysio", 2, history=2, min_strength=40)
    tokens = [await admin_token(zone)]

    async def change(current: str, new: str) -> tuple[int, dict[str, Any]]:
        status, body = await change_own_password(zone, tokens[-1], current, new)
        if status == 200:  # the change ends every session; the caller gets a new one
            tokens.append(body["token"]["token"])
        return status, body

    status, body = await change(ADMIN_PASSWORD, ADMIN_PASSWORD)
    assert status == 422 and body["type"].endswith("/password-reused")
    status, body = await change(ADMIN_PASSWORD, STRONG)
    assert status == 200 and body["must_change"] is False
    status, body = await change(STRONG, ADMIN_PASSWORD)
    assert status == 422 and body["type"].endswith("/password-reused")
    status, body = await change(STRONG, STRONGER)
    assert status == 200
    status, body = await change(STRONGER, ADMIN_PASSWORD)
    assert status == 200, "history 2 remembers only the last two passwords"
    status, body = await change("not-the-current", STRONG)
    assert status == 401 and body["type"].endswith("/invalid-credentials")
    for _ in range(4):
        status, body = await change("still-not-it", STRONG)
    status, body = await change(ADMIN_PASSWORD, STRONG)
    assert status == 429 and body["type"].endswith("/account-locked"), "lockout applies here too"


async def test_expired_and_weaker_than_policy_must_change(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert body["next"] == "done"
    await set_policy(zone, "fysio", 2, change_after_days=30, warn_before_days=10)
    await zone.auth.pool.execute("UPDATE credentials SET changed_at = now() - interval '25 days'")
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert body["next"] == "done" and body["password_expires_at"] is not None
    await zone.auth.pool.execute("UPDATE credentials SET changed_at = now() - interval '31 days'")
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "change_password"
    await zone.auth.pool.execute("UPDATE credentials SET changed_at = now()")
    token = await admin_token(zone)
    employee = await zone.auth.pool.fetchval("SELECT id FROM employees")
    status, body = await put_password(zone, token, "fysio", employee, "Fietsbel!2024x", False)
    assert status == 200 and 60 < body["strength"] < 90
    status, body = await login(zone, "fysio", "admin", "Fietsbel!2024x")
    assert body["next"] == "done"
    await set_policy(zone, "fysio", 3, min_strength=90)
    status, body = await login(zone, "fysio", "admin", "Fietsbel!2024x")
    assert status == 200 and body["next"] == "change_password", "raising the minimum strength"


async def test_two_factor_practice_never_gets_password_only_token(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    before = await admin_token(zone)
    await set_policy(zone, "fysio", 2, two_factor_required=True)
    renew_old = await zone.client.post(
        "/v1/tokens/renew", headers={"Authorization": f"Bearer {before}"}
    )
    assert renew_old.status == 401, "a password-only session ends when two factors are required"
    assert (await introspect(zone, before))["active"] is False
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "enrol"
    assert body["token"] is None and body["enrolment_token"]
    renew = await zone.client.post(
        "/v1/tokens/renew", headers={"Authorization": f"Bearer {body['enrolment_token']}"}
    )
    assert renew.status == 401, "an enrolment token is not a session token"


async def test_only_own_practice_administrator_sets_passwords(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone, "fysio")
    other_admin = await cluster.bootstrap(zone, "huisarts")
    token = await admin_token(zone, "fysio")
    other_token = await admin_token(zone, "huisarts")
    status, body = await put_password(zone, other_token, "fysio", employee, STRONG, False)
    assert status == 403 and body["type"].endswith("/forbidden")
    status, body = await put_password(zone, token, "fysio", other_admin, STRONG, False)
    assert status == 404, "another practice's employee is not found in this practice"
    status, body = await put_password(zone, "not-a-token", "fysio", employee, STRONG, False)
    assert status == 401
    await zone.auth.pool.execute("UPDATE employees SET rights_group = 2 WHERE id = $1", employee)
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    employee_token = body["token"]["token"]
    status, body = await put_password(zone, employee_token, "fysio", employee, STRONG, False)
    assert status == 403
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200, "nothing changed"
    status, body = await put_password(zone, other_token, "huisarts", other_admin, "zwak", False)
    assert status == 422 and body["type"].endswith("/password-too-weak")


async def test_a_forced_change_in_the_login_ends_the_other_sessions(cluster: Cluster) -> None:
    """Hardening II finding 7: like every password change, the one a login forces (expired or
    too weak) ends the employee's other sessions; the login it belongs to goes on."""
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    earlier = await admin_token(zone)
    await set_policy(zone, "fysio", 2, change_after_days=30, warn_before_days=10)
    await zone.auth.pool.execute("UPDATE credentials SET changed_at = now() - interval '31 days'")
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "change_password", body
    done = await zone.client.post(
        f"/v1/login/{body['login_id']}/password", json={"new_password": STRONG}
    )
    result = await done.json()
    assert done.status == 200 and result["next"] == "done", result
    assert await introspect(zone, earlier) == {"active": False}, "the earlier session lives on"
    renewed = await zone.client.post(
        "/v1/tokens/renew", headers={"Authorization": f"Bearer {result['token']['token']}"}
    )
    assert renewed.status == 200, await renewed.text()
