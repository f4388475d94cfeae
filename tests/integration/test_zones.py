"""Two zones, each with its own database, sharing the broker: state converges, tokens renew in
either zone, failed attempts add up, revocations replicate."""

from __future__ import annotations

from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.practices import set_policy
from tests.support.tokens import bearer, change_own_password, introspect, renew


async def _practice_version(zone: Zone, version: int) -> bool:
    v = await zone.auth.pool.fetchval("SELECT version FROM practices WHERE id = 'fysio'")
    return bool(v == version)


async def test_zone_b_logs_in_and_renews_what_zone_a_issued(cluster: Cluster) -> None:
    a = await cluster.start("a")
    b = await cluster.start("b")
    await cluster.bootstrap(a)
    status, body = await login(b, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200 and body["token"]["token"]
    _, from_a = await login(a, "fysio", "admin", ADMIN_PASSWORD)
    status, renewed = await renew(b, from_a["token"]["token"])
    assert status == 200
    assert b.auth.signer.kid_of(renewed["token"]).startswith("b-")

    async def same_jwks() -> set[str]:
        kids = []
        for zone in (a, b):
            jwks = await (await zone.client.get("/.well-known/jwks.json")).json()
            kids.append({k["kid"] for k in jwks["keys"]})
        return kids[0] if kids[0] == kids[1] else set()

    kids = await wait_for(same_jwks)
    assert {kid[0] for kid in kids} == {"a", "b"}, "each zone serves both zones' keys"


async def test_failed_attempts_add_up_across_zones(cluster: Cluster) -> None:
    a = await cluster.start("a")
    b = await cluster.start("b")
    await cluster.bootstrap(a)
    await set_policy(a, "fysio", 2, max_attempts=4, lockout_seconds=600)
    await wait_for(lambda: _practice_version(b, 2))
    for zone in (a, a, b):
        status, _ = await login(zone, "fysio", "admin", "wrong")
        assert status == 401

    async def replicated(count: int) -> bool:
        n = await a.auth.pool.fetchval("SELECT count(*) FROM login_failures")
        m = await b.auth.pool.fetchval("SELECT count(*) FROM login_failures")
        return bool(n == count and m == count)

    await wait_for(lambda: replicated(3))
    status, _ = await login(b, "fysio", "admin", "wrong")
    assert status == 401
    await wait_for(lambda: replicated(4))
    for zone in (a, b):
        status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
        assert status == 429 and body["type"].endswith("/account-locked")


async def test_revocation_reaches_the_other_zone(cluster: Cluster) -> None:
    a = await cluster.start("a")
    b = await cluster.start("b")
    await cluster.bootstrap(a)
    _, body = await login(a, "fysio", "admin", ADMIN_PASSWORD)
    token = body["token"]["token"]
    assert (await introspect(b, token))["active"] is True
    response = await a.client.post("/v1/tokens/revoke", headers=bearer(token))
    assert response.status == 204

    async def inactive_in_b() -> bool:
        return (await introspect(b, token))["active"] is False

    await wait_for(inactive_in_b)
    status, problem = await renew(b, token)
    assert status == 401 and problem["type"].endswith("/session-revoked")


async def test_password_changed_in_one_zone_works_in_the_other(cluster: Cluster) -> None:
    a = await cluster.start("a")
    b = await cluster.start("b")
    await cluster.bootstrap(a)
    _, body = await login(b, "fysio", "admin", ADMIN_PASSWORD)
    new = "Een-Nieuw-Lang-Wachtwoord-Voor-Zone-B"
    status, _ = await change_own_password(b, body["token"]["token"], ADMIN_PASSWORD, new)
    assert status == 200

    async def new_works_in_a() -> bool:
        status, _ = await login(a, "fysio", "admin", new)
        return status == 200

    await wait_for(new_works_in_a)
    status, _ = await login(a, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 401
