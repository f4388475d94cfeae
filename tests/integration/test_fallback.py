"""The certificate fallback login at auth (eHealth's fallback procedure), on real PostgreSQL and
the real broker: password, then a nonce signed with the key of a Personal certificate granted
to the employee. Most tests publish the certificate store's `certificate.upserted` events
themselves (tests/support/fallback.py, as tests/support/factors.py simulates the enrolment
service); the last one goes through the real certs service. Certificates and keys are made
here with ``cryptography``."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from services.auth.domain import tokens
from shared.events import utcnow
from shared.http import RUNTIME
from tests.support.bus import events, of_type
from tests.support.certificates import Issued
from tests.support.cluster import Cluster, Zone, wait_for
from tests.support.factors import (
    PRACTICE,
    PRACTICE_EMAIL,
    Setup,
    challenge,
    claims_of,
    problem,
    second_step,
    two_factor_practice,
    two_factor_setup,
    until_in,
)
from tests.support.fallback import CA, publish_certificate, sign, verify_certificate
from tests.support.tokens import bearer, forge_session, knows_tokens_of, renew


async def fallback_login(
    zone: Zone, issued: Issued, certificate: str = "c1"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Password, challenge, signature: the challenge's answer and the token."""
    login_id = (await second_step(zone))["login_id"]
    status, nonce = await challenge(zone, login_id, "certificate")
    assert status == 200, nonce
    status, token = await verify_certificate(
        zone, login_id, certificate, sign(issued, nonce["nonce"])
    )
    assert status == 200, token
    return nonce, token


async def failures(zone: Zone) -> int:
    n: int = await zone.auth.pool.fetchval(
        "SELECT count(*) FROM login_failures WHERE practice = $1 AND username = 'admin'", PRACTICE
    )
    return n


async def uses(zone: Zone) -> int:
    n: int = await zone.auth.pool.fetchval(
        "SELECT count(*) FROM fallback_uses WHERE practice = $1", PRACTICE
    )
    return n


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- tests ------------------------------------------------------------------------------------


async def test_fallback_login_with_ecdsa_and_rsa_pss(cluster: Cluster) -> None:
    setup = await two_factor_setup(cluster)
    zone = setup.zone
    ec_cert, rsa_cert = CA.issue(), CA.issue(rsa_key=True)
    await publish_certificate(setup.zones, "c1", ec_cert, [setup.employee])
    await publish_certificate(setup.zones, "c2", rsa_cert, [setup.employee])

    body = await second_step(zone)
    assert body["factors"] == ["totp", "certificate"], "the fallback comes last"
    status, nonce = await challenge(zone, body["login_id"], "certificate")
    assert status == 200, nonce
    assert nonce["factor"] == "certificate" and nonce["nonce"].startswith("tweestap-fallback-v1:")
    assert nonce["uses_left"] == 3 and nonce["sent_to"] is None
    assert {c["nr"] for c in nonce["certificates"]} == {"c1", "c2"}
    assert at(nonce["expires_at"]) - utcnow() <= timedelta(seconds=300)
    status, token = await verify_certificate(
        zone, body["login_id"], "c1", sign(ec_cert, nonce["nonce"], url=True)
    )
    assert status == 200, token
    claims = await claims_of(zone, token["token"])
    assert claims["aal"] == tokens.FALLBACK_AAL and claims["amr"] == ["pwd", "x509"]
    session_end = at(token["session_expires_at"]).timestamp()
    assert session_end == claims["auth_time"] + 12 * 3600, "a fallback session lasts 12 hours"
    assert claims["exp"] <= session_end

    # The RSA certificate, named by its fingerprint in colon notation, with an RSA-PSS signature.
    fingerprint = next(c["fingerprint"] for c in nonce["certificates"] if c["nr"] == "c2")
    colons = ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    second, token = await fallback_login(zone, rsa_cert, colons)
    assert second["uses_left"] == 2
    assert (await claims_of(zone, token["token"]))["aal"] == tokens.FALLBACK_AAL

    used = await events(
        cluster, zone, "auth.events", of_type("fallback.used", employee=setup.employee), 2
    )
    assert {e["data"]["certificate"] for e in used} == {"c1", "c2"}
    assert sorted(e["data"]["uses_left"] for e in used) == [1, 2]
    alerts = await events(
        cluster,
        zone,
        "notify.requests",
        of_type("notify.requested", template="fallback_alert", recipient=PRACTICE_EMAIL),
        2,
    )
    parameters = alerts[0]["data"]["parameters"]
    assert parameters["username"] == "admin" and "nr c" in parameters["certificate"]
    issued = await events(
        cluster, zone, "auth.events", of_type("token.issued", aal=tokens.FALLBACK_AAL), 2
    )
    assert all(e["data"]["amr"] == ["pwd", "x509"] for e in issued)
    metrics = await (await zone.ops.get("/metrics")).text()
    assert 'tweestap_fallback_logins_total{outcome="success",service="auth",zone="a"} 2.0' in (
        metrics
    )


async def test_refusals_change_nothing_but_count_as_failures(cluster: Cluster) -> None:
    setup = await two_factor_setup(cluster)
    zone = setup.zone
    await two_factor_practice(setup.zones, version=3, max_attempts=20)
    granted, other = CA.issue(), CA.issue()
    public = CA.issue()
    expired = CA.issue(start=timedelta(days=-10), days=5)
    await publish_certificate(setup.zones, "c1", granted, [setup.employee])
    await publish_certificate(setup.zones, "other", other, ["someone-else"])
    await publish_certificate(setup.zones, "public", public, [setup.employee], type_="public")
    await publish_certificate(setup.zones, "old", expired, [setup.employee])

    login_id = (await second_step(zone))["login_id"]
    problem(
        await verify_certificate(zone, login_id, "c1", sign(granted, "x")),
        409,
        "challenge-required",
    )
    assert await failures(zone) == 0, "no nonce asked for: nothing to count"

    async def attempt(certificate: str, signer: Issued, nonce_of: str | None = None) -> Any:
        status, nonce = await challenge(zone, login_id, "certificate")
        assert status == 200, nonce
        signed = sign(signer, nonce_of if nonce_of is not None else nonce["nonce"])
        return await verify_certificate(zone, login_id, certificate, signed)

    problem(await attempt("c1", granted, nonce_of="an earlier nonce"), 401, "invalid-signature")
    problem(await attempt("c1", other), 401, "invalid-signature")
    problem(await attempt("other", other), 403, "certificate-not-allowed")
    answer = await attempt("public", public)
    problem(answer, 403, "certificate-not-allowed")
    assert "Personal" in answer[1]["detail"]
    problem(await attempt("old", expired), 403, "certificate-not-allowed")
    problem(await attempt("nonexistent", granted), 403, "certificate-not-allowed")
    assert await failures(zone) == 6, "every refused certificate or signature counts"

    # A nonce is good for one try, even after a wrong one.
    status, nonce = await challenge(zone, login_id, "certificate")
    assert status == 200
    problem(
        await verify_certificate(zone, login_id, "c1", sign(other, nonce["nonce"])),
        401,
        "invalid-signature",
    )
    problem(
        await verify_certificate(zone, login_id, "c1", sign(granted, nonce["nonce"])),
        409,
        "challenge-required",
    )
    bad = await zone.client.post(
        f"/v1/login/{login_id}/verify", json={"factor": "certificate", "certificate": "c1"}
    )
    assert bad.status == 422 and bad.content_type == "application/problem+json"
    assert await uses(zone) == 0
    assert await zone.auth.pool.fetchval("SELECT count(*) FROM logins WHERE done") == 0

    # The login is still open: the right signature over a fresh nonce completes it, once.
    status, nonce = await challenge(zone, login_id, "certificate")
    signature = sign(granted, nonce["nonce"])
    status, token = await verify_certificate(zone, login_id, "c1", signature)
    assert status == 200, token
    problem(await verify_certificate(zone, login_id, "c1", signature), 404, "login-not-found")
    assert await uses(zone) == 1 and await failures(zone) == 0, "a success resets failures"


async def test_nonce_expires(cluster: Cluster) -> None:
    setup = await two_factor_setup(cluster, fallback_challenge_seconds=10)
    issued = CA.issue()
    await publish_certificate(setup.zones, "c1", issued, [setup.employee])
    login_id = (await second_step(setup.zone))["login_id"]
    status, nonce = await challenge(setup.zone, login_id, "certificate")
    assert status == 200
    await setup.zone.auth.pool.execute(
        "UPDATE fallback_challenges SET expires_at = now() - interval '1 second'"
    )
    problem(
        await verify_certificate(setup.zone, login_id, "c1", sign(issued, nonce["nonce"])),
        401,
        "challenge-expired",
    )


async def test_no_usable_certificate_no_fallback(cluster: Cluster) -> None:
    setup = await two_factor_setup(cluster)
    zone = setup.zone
    login_id = (await second_step(zone))["login_id"]
    problem(await challenge(zone, login_id, "certificate"), 422, "factor-not-available")

    public = CA.issue()
    await publish_certificate(setup.zones, "public", public, [setup.employee], type_="public")
    body = await second_step(zone)
    assert body["factors"] == ["totp"], "a Public certificate is no fallback"
    problem(await challenge(zone, body["login_id"], "certificate"), 422, "factor-not-available")

    # Granted, then removed from the store: offered, then not.
    issued = CA.issue()
    await publish_certificate(setup.zones, "c1", issued, [setup.employee])
    assert (await second_step(zone))["factors"] == ["totp", "certificate"]
    await publish_certificate(setup.zones, "c1", issued, [setup.employee], version=2, removed=True)
    assert (await second_step(zone))["factors"] == ["totp"]

    # A practice that switched the fallback off (fallback_max_uses 0).
    await publish_certificate(setup.zones, "c1", issued, [setup.employee], version=3)
    await two_factor_practice(setup.zones, version=3, fallback_max_uses=0)
    body = await second_step(zone)
    assert body["factors"] == ["totp"]
    problem(await challenge(zone, body["login_id"], "certificate"), 422, "factor-not-available")


async def test_the_limit_per_30_days_holds_across_zones(cluster: Cluster) -> None:
    setup = await two_factor_setup(cluster, zones=("a", "b"))
    a, b = setup.zones
    await two_factor_practice(setup.zones, version=3, fallback_max_uses=2)
    issued = CA.issue()
    await publish_certificate(setup.zones, "c1", issued, [setup.employee])
    await fallback_login(a, issued)
    # Zone b learns of zone a's use through auth.events and counts it.
    await until_in([b], "SELECT count(*) = 1 FROM fallback_uses WHERE practice = $1", PRACTICE)
    nonce, _ = await fallback_login(b, issued)
    assert nonce["uses_left"] == 1
    await until_in([a], "SELECT count(*) = 2 FROM fallback_uses WHERE practice = $1", PRACTICE)

    for zone in (a, b):
        login_id = (await second_step(zone))["login_id"]
        response = await zone.client.post(
            f"/v1/login/{login_id}/challenge", json={"factor": "certificate"}
        )
        body = await response.json(content_type=None)
        assert response.status == 429 and body["type"].endswith("/fallback-limit-reached"), body
        retry = int(response.headers["Retry-After"])
        assert 29 * 86400 < retry <= 30 * 86400, "until the first use leaves the 30 days"

    # A nonce asked for before the limit was reached does not get past it either.
    await two_factor_practice(setup.zones, version=4, fallback_max_uses=3)
    login_id = (await second_step(a))["login_id"]
    status, nonce = await challenge(a, login_id, "certificate")
    assert status == 200 and nonce["uses_left"] == 1
    await two_factor_practice(setup.zones, version=5, fallback_max_uses=2)
    problem(
        await verify_certificate(a, login_id, "c1", sign(issued, nonce["nonce"])),
        429,
        "fallback-limit-reached",
    )
    assert await uses(a) == 2


async def test_fallback_session_is_not_renewed_past_12_hours(cluster: Cluster) -> None:
    setup = await two_factor_setup(cluster, token_lifetime_seconds=8 * 3600)
    zone = setup.zone
    issued = CA.issue()
    await publish_certificate(setup.zones, "c1", issued, [setup.employee])
    _, token = await fallback_login(zone, issued)
    status, renewed = await renew(zone, token["token"])
    assert status == 200, renewed
    assert renewed["session_expires_at"] == token["session_expires_at"]
    assert (await claims_of(zone, renewed["token"]))["aal"] == tokens.FALLBACK_AAL

    # The same kind of session near its end and past it (signed as a renewal would be).
    near = forge_session(zone, setup.employee, timedelta(hours=11, minutes=50), tokens.FALLBACK_AAL)
    status, body = await renew(zone, near)
    assert status == 200, body
    claims = await claims_of(zone, body["token"])
    assert claims["exp"] == claims["auth_time"] + 12 * 3600, "capped at 12 hours"
    past = forge_session(zone, setup.employee, timedelta(hours=12, seconds=5), tokens.FALLBACK_AAL)
    problem(await renew(zone, past), 401, "session-expired")
    two_factor = forge_session(zone, setup.employee, timedelta(hours=12, seconds=5), "aal2")
    assert (await renew(zone, two_factor))[0] == 200, "an aal2 session goes on to 24 hours"
    response = await zone.client.post("/v1/tokens/revoke", headers=bearer(renewed["token"]))
    assert response.status == 204


async def test_certificate_from_the_certificate_store(cluster: Cluster) -> None:
    """The real certs service: a PKCS#12 import, a grant, and auth learns both over
    certs.events; a change to Public there ends the fallback here."""
    setup: Setup = await two_factor_setup(cluster)
    zone = setup.zone
    certs = await cluster.start("a", "certs")
    pool = certs.app[RUNTIME].pool

    await wait_for(functools.partial(knows_tokens_of, pool, zone, PRACTICE, setup.employee))
    admin = forge_session(zone, setup.employee, timedelta(minutes=1), "aal2")
    base = f"/v1/practices/{PRACTICE}/certificates"
    uzi = CA.uzi(rsa_key=True)
    response = await certs.client.post(
        base,
        json={"pkcs12": uzi.pkcs12("geheim"), "password": "geheim"},
        headers=bearer(admin),
    )
    imported = await response.json()
    assert response.status == 201, imported
    nr = imported["nr"]
    response = await certs.client.put(f"{base}/{nr}/grants/{setup.employee}", headers=bearer(admin))
    assert response.status in (200, 204), await response.text()
    await until_in(
        [zone],
        "SELECT grants ? $3 FROM certificates WHERE practice = $1 AND nr = $2",
        PRACTICE,
        nr,
        setup.employee,
    )
    _, token = await fallback_login(zone, uzi, nr)
    assert (await claims_of(zone, token["token"]))["amr"] == ["pwd", "x509"]

    response = await certs.client.patch(
        f"{base}/{nr}", json={"type": "public"}, headers=bearer(admin)
    )
    assert response.status == 200, await response.text()
    await until_in(
        [zone],
        "SELECT type = 'public' FROM certificates WHERE practice = $1 AND nr = $2",
        PRACTICE,
        nr,
    )
    body = await second_step(zone)
    assert body["factors"] == ["totp"], "Public now: no fallback with it"
    problem(await challenge(zone, body["login_id"], "certificate"), 422, "factor-not-available")
