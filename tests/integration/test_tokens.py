"""The secure token service: renewal, its cap, revocation, introspection, JWKS, key rotation."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import jwt

from services.auth.domain import tokens
from shared import replicas
from shared.events import utcnow
from tests.support.bus import applied, events, of_type
from tests.support.cluster import ADMIN_PASSWORD, Cluster, login, wait_for
from tests.support.tokens import bearer, forge_session, introspect, renew, verify_with_jwks


async def test_renewal_gives_fresh_token_valid_x_from_now(cluster: Cluster) -> None:
    zone = await cluster.start("a", token_lifetime_seconds=3600)
    await cluster.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    first = body["token"]
    status, renewed = await renew(zone, first["token"])
    assert status == 200
    jwks = await (await zone.client.get("/.well-known/jwks.json")).json()
    old, new = verify_with_jwks(first["token"], jwks), verify_with_jwks(renewed["token"], jwks)
    assert new["sid"] == old["sid"] and new["auth_time"] == old["auth_time"]
    assert new["jti"] != old["jti"] and new["exp"] - new["iat"] == 3600
    assert renewed["session_expires_at"] == first["session_expires_at"]
    assert renewed["renew_after"] < renewed["expires_at"]


async def test_renewal_never_passes_the_session_maximum(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    near_end = forge_session(zone, employee, timedelta(hours=24) - timedelta(minutes=10))
    status, body = await renew(zone, near_end)
    assert status == 200
    claims = verify_with_jwks(
        body["token"], await (await zone.client.get("/.well-known/jwks.json")).json()
    )
    assert claims["exp"] == claims["auth_time"] + 24 * 3600, "capped at the session's end"
    past_end = forge_session(zone, employee, timedelta(hours=24, seconds=5))
    status, body = await renew(zone, past_end)
    assert status == 401 and body["type"].endswith("/session-expired")
    fallback = forge_session(zone, employee, timedelta(hours=12, seconds=5), tokens.FALLBACK_AAL)
    status, body = await renew(zone, fallback)
    assert status == 401 and body["type"].endswith("/session-expired"), "fallback: 12 h"


async def test_renewals_queue_an_event_once_per_period_of_the_session(cluster: Cluster) -> None:
    """Renewing in a loop leaves no event per renewal (the counter counts them); a renewal
    of a token issued in an earlier hour of the session does queue one."""
    zone = await cluster.start("a", renewal_event_seconds=3600)
    await cluster.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    token = body["token"]["token"]
    for _ in range(3):
        status, renewed = await renew(zone, token)
        assert status == 200
        token = renewed["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    # The same session, as if it had started 3,700 s ago and this token came in its first hour.
    now = int(time.time())
    earlier = {
        **claims,
        "auth_time": now - 3700,
        "sst": now - 3700,
        "iat": now - 3650,
        "jti": "earlier",
    }
    status, _ = await renew(zone, zone.auth.signer.sign(earlier, utcnow()))
    assert status == 200
    renewals = await events(
        cluster, zone, "auth.events", of_type("token.renewed", sid=claims["sid"]), 1
    )
    # The earlier renewals of the session precede it on the same key: none was queued.
    assert len(renewals) == 1
    metrics = await (await zone.ops.get("/metrics")).text()
    assert 'tweestap_tokens_total{kind="token.renewed",service="auth",zone="a"} 4.0' in metrics


async def test_revocation_and_introspection(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    token = body["token"]["token"]
    info = await introspect(zone, token)
    assert info["active"] is True and info["sub"] == employee and info["token_type"] == "Bearer"
    assert info["username"] == "admin"
    assert {"exp", "iat", "iss", "sid", "amr", "acr", "auth_time", "practice"} <= info.keys()
    response = await zone.client.post("/v1/tokens/revoke", headers=bearer(token))
    assert response.status == 204
    assert await introspect(zone, token) == {"active": False}
    status, problem = await renew(zone, token)
    assert status == 401 and problem["type"].endswith("/session-revoked")
    assert await introspect(zone, "garbage") == {"active": False}
    _, again = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert (await introspect(zone, again["token"]["token"]))["active"] is True, "new session"


async def test_expired_and_foreign_tokens_are_refused(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    now = utcnow()
    session = tokens.Session.new(
        "fysio", employee, 1, ("pwd",), "aal1", now - timedelta(hours=2), "low"
    )
    claims = tokens.grant(
        session,
        tokens.Lifetimes(timedelta(minutes=1), timedelta(days=1)),
        zone.settings.issuer,
        "a",
        now - timedelta(hours=1),
        audience=zone.settings.token_audience,
        client_id=zone.settings.token_client_id,
    ).claims
    expired = zone.auth.signer.sign(claims, now)
    status, body = await renew(zone, expired)
    assert status == 401 and "expired" in body["detail"].lower()
    status, body = await renew(zone, expired[:-4] + "AAAA")
    assert status == 401
    response = await zone.client.post("/v1/tokens/renew")
    assert response.status == 401


async def test_key_rotation_keeps_old_tokens_valid(cluster: Cluster) -> None:
    zone = await cluster.start("a", key_publish_lead_seconds=0)
    await cluster.bootstrap(zone)
    _, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    old_token = body["token"]["token"]
    old_kid = zone.auth.signer.kid_of(old_token)
    await zone.auth.pool.execute("UPDATE signing_keys SET not_before = now() - interval '31 days'")
    await zone.use_cases.keys.rotate_if_due()
    status, renewed = await renew(zone, old_token)
    assert status == 200, renewed
    new_kid = zone.auth.signer.kid_of(renewed["token"])
    assert new_kid != old_kid
    jwks = await (await zone.client.get("/.well-known/jwks.json")).json()
    assert {old_kid, new_kid} <= {k["kid"] for k in jwks["keys"]}
    verify_with_jwks(old_token, jwks)
    verify_with_jwks(renewed["token"], jwks)
    retire_at = await zone.auth.pool.fetchval(
        "SELECT retire_at FROM signing_keys WHERE kid = $1", old_kid
    )
    assert retire_at >= utcnow() + timedelta(hours=23), "kept until its tokens have expired"

    async def published() -> bool:
        n = await zone.auth.pool.fetchval("SELECT count(*) FROM public_keys")
        return bool(n >= 2)

    await wait_for(published)


async def test_housekeeping_forgets_only_what_can_no_longer_matter(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    tokens_ = []
    for _ in range(2):
        status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
        assert status == 200, body
        tokens_.append(body["token"]["token"])
        await zone.client.post("/v1/tokens/revoke", headers=bearer(body["token"]["token"]))
    pool = zone.auth.pool
    # The zone applies its own ``session.revoked`` from the bus too, keeping the later end:
    # backdating before that lands would be undone (the CI failure of 2026-12-06).
    revoked = await events(cluster, zone, "sts.revocations", of_type("session.revoked"), 2)
    await wait_for(lambda: applied(pool, [e["id"] for e in revoked]))
    ended = (await zone.auth.gate.signed_claims(tokens_[0]))["sid"]
    await pool.execute(
        "UPDATE revocations SET session_expires_at = now() - interval '2 hours' WHERE sid = $1",
        ended,
    )
    await pool.execute("UPDATE logins SET expires_at = now() - interval '2 hours'")
    await zone.use_cases.housekeeping.housekeeping()
    left = {r["sid"] for r in await pool.fetch("SELECT sid FROM revocations")}
    assert ended not in left and len(left) == 1, "a live session's revocation stays"
    assert await pool.fetchval("SELECT count(*) FROM logins") == 0
    status, _ = await renew(zone, tokens_[1])
    assert status == 401


async def test_a_cutoff_ends_a_session_that_began_after_an_earlier_cutoff_in_the_same_second(
    cluster: Cluster,
) -> None:
    """Two cutoffs within one second (a password change, then a deactivation): a session that
    began between them ends with the second, although ``auth_time`` has whole seconds."""
    zone = await cluster.start("a")
    employee = await cluster.bootstrap(zone)
    await asyncio.sleep(1.05 - time.time() % 1)  # just past a whole second: room for all
    async with zone.auth.pool.acquire() as conn:
        await replicas.raise_cutoff(conn, "fysio", employee, utcnow())
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    token = body["token"]["token"]
    assert (await renew(zone, token))[0] == 200, "began after the first cutoff"
    async with zone.auth.pool.acquire() as conn:
        await replicas.raise_cutoff(conn, "fysio", employee, utcnow())
    assert time.time() % 1 < 0.95, "the test took longer than its second: run it again"
    status, answer = await renew(zone, token)
    assert status == 401 and answer["type"].endswith("/session-revoked"), answer
    assert await introspect(zone, token) == {"active": False}
