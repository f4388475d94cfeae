"""Issue 10, what a token may do: auth's own endpoints check a live session (not only a
signature), tokens follow RFC 9068 and every Tweestap service checks their audience, an
independent JOSE library verifies a token knowing only the issuer URL, and answers that carry a
token or a secret are never cached."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import aiohttp
import jwt
from aiohttp.test_utils import TestClient, TestServer
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from services.dev.infra import free_port
from services.registry import SERVICES
from shared.db import ensure_database
from shared.events import utcnow
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.enrolment import (
    PIET,
    PIET_BIRTH,
    PIET_BSN,
    PIET_EMAIL,
    PIET_PASSWORD,
    P,
    enrol_login,
    put_piet,
    set_password,
    start,
    totp,
    two_factor_practice,
)
from tests.support.mail import SmtpSink
from tests.support.tokens import bearer, change_own_password

PROBLEM = "application/problem+json"
OTHER_PASSWORD = "Nog-Een-Heel-Ander-Wachtwoord-Voor-2027"


async def test_password_endpoints_refuse_sessions_that_are_no_longer_live(
    cluster: Cluster,
) -> None:
    async for rig in start(cluster):
        auth = rig.auth
        await put_piet(rig, rights_group=1)
        response = await set_password(auth, rig.admin_token, PIET, PIET_PASSWORD)
        assert response.status == 200, "a live administrator's token still works"
        status, body = await login(auth, P, "piet", PIET_PASSWORD)
        assert status == 200 and body["next"] == "done", body
        piet = body["token"]["token"]

        # Every refusal is collected first, so a failure shows all of them at once.
        seen: dict[str, int] = {}

        # A revoked token: refused on both endpoints.
        status, body = await login(auth, P, "admin", ADMIN_PASSWORD)
        revoked = body["token"]["token"]
        assert (await auth.client.post("/v1/tokens/revoke", headers=bearer(revoked))).status == 204
        seen["revoked, set"] = (await set_password(auth, revoked, PIET)).status
        seen["revoked, own"] = (
            await change_own_password(auth, revoked, ADMIN_PASSWORD, OTHER_PASSWORD)
        )[0]

        # A demoted administrator (rights group 2 now, through the directory): the token's
        # rg 1 no longer administers.
        await put_piet(rig, rights_group=2)
        seen["demoted, set"] = (await set_password(auth, piet, PIET)).status

        # Out of service: the session ended, on both endpoints.
        await put_piet(rig, rights_group=2, in_service=False)
        seen["out of service, set"] = (await set_password(auth, piet, PIET)).status
        seen["out of service, own"] = (
            await change_own_password(auth, piet, PIET_PASSWORD, OTHER_PASSWORD)
        )[0]

        assert seen == {
            "revoked, set": 401,
            "revoked, own": 401,
            "demoted, set": 403,
            "out of service, set": 401,
            "out of service, own": 401,
        }
        admin_password = await set_password(auth, rig.admin_token, PIET)
        assert admin_password.status == 200, "the live administrator's token still works"
        refusal = await set_password(auth, piet, PIET)
        assert refusal.content_type == PROBLEM


def forged(zone: Zone, employee: str, **changes: Any) -> str:
    """A session token signed with the zone's own key, with ``changes`` to claims (``None``
    drops one) or, under ``headers``, to the header."""
    now = int(utcnow().timestamp())
    claims: dict[str, Any] = {
        "iss": zone.settings.issuer,
        "aud": zone.settings.token_audience,
        "client_id": zone.settings.token_client_id,
        "sub": employee,
        "practice": P,
        "rg": 1,
        "sid": uuid.uuid4().hex,
        "amr": ["pwd", "otp"],
        "acr": "aal2",
        "auth_time": now,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "zone": "a",
        "scope": "session",
    }
    headers = {"typ": "at+jwt", **changes.pop("headers", {})}
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    signer = zone.auth.signer
    key = signer.current(utcnow())
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid, **headers})


async def test_tokens_follow_rfc9068_and_every_service_checks_the_audience(
    cluster: Cluster,
) -> None:
    async for rig in start(cluster):
        certs = await cluster.start("a", "certs")
        path = f"/v1/practices/{P}/certificates"
        await wait_for(partial(answers_ok, certs, "GET", path, rig.admin_token))
        good = forged(rig.auth, rig.admin)
        bad = {
            "another audience": forged(rig.auth, rig.admin, aud="https://elders.example"),
            "no audience": forged(rig.auth, rig.admin, aud=None),
            "not typ at+jwt": forged(rig.auth, rig.admin, headers={"typ": "JWT"}),
        }
        calls = {
            "auth": (rig.auth, "POST", "/v1/tokens/renew"),
            "enrolment": (rig.enrol, "GET", "/v1/factors"),
            "certs": (certs, "GET", path),
        }
        seen: dict[str, int] = {}
        for service, (zone, method, url) in calls.items():
            assert await answers_ok(zone, method, url, good), service
            for what, token in bad.items():
                response = await zone.client.request(method, url, headers=bearer(token))
                seen[f"{service}, {what}"] = response.status
                if response.status >= 400:
                    assert response.content_type == PROBLEM
        assert seen == {key: 401 for key in seen}, seen

        issued = rig.admin_token
        assert jwt.get_unverified_header(issued)["typ"] == "at+jwt"
        claims = jwt.decode(issued, options={"verify_signature": False})
        assert claims["aud"] == rig.auth.settings.token_audience
        assert claims["client_id"] == rig.auth.settings.token_client_id


async def answers_ok(zone: Zone, method: str, path: str, token: str) -> bool:
    response = await zone.client.request(method, path, headers=bearer(token))
    return response.status == 200


async def test_an_independent_library_verifies_a_token_knowing_only_the_issuer(
    cluster: Cluster,
) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = cluster.settings("a", issuer=issuer)
    await ensure_database(settings.database_url)
    app = SERVICES["auth"].create_app(settings)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    zone = Zone(settings, client, app)
    cluster.zones.append(zone)
    await cluster.bootstrap(zone)
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200, body
    token = body["token"]["token"]

    # Only the issuer URL is configured: discovery, then the JWKS, then verify.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{issuer}/.well-known/openid-configuration") as response:
            assert response.status == 200
            config = await response.json()
        assert config["issuer"] == issuer
        assert config["introspection_endpoint"] == f"{issuer}/v1/tokens/introspect"
        assert config["revocation_endpoint"] == f"{issuer}/revoke"
        assert config["access_token_signing_alg_values_supported"] == ["EdDSA"]
        async with http.get(config["jwks_uri"]) as response:
            keys = KeySet.import_key_set(await response.json())
    algorithms = config["access_token_signing_alg_values_supported"]
    verified = jose_jwt.decode(token, keys, algorithms=algorithms)
    assert verified.header["typ"] == "at+jwt"
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": settings.token_audience},
        sub={"essential": True},
        exp={"essential": True},
    )
    registry.validate(verified.claims)


async def test_answers_with_a_token_are_not_cached(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    await cluster.bootstrap(zone)
    response = await zone.client.post(
        "/v1/login", json={"practice": "fysio", "username": "admin", "password": ADMIN_PASSWORD}
    )
    assert response.status == 200
    assert response.headers.get("Cache-Control") == "no-store", "login (token)"
    token = (await response.json())["token"]["token"]
    renewed = await zone.client.post("/v1/tokens/renew", headers=bearer(token))
    assert renewed.status == 200
    assert renewed.headers.get("Cache-Control") == "no-store", "renew"
    refused_ = await zone.client.post("/v1/tokens/renew", headers=bearer("garbage"))
    assert refused_.status == 401
    assert refused_.headers.get("Cache-Control") == "no-store", "a problem too"
    jwks = await zone.client.get("/.well-known/jwks.json")
    assert "max-age" in jwks.headers.get("Cache-Control", ""), "public keys may be cached"
    config = await zone.client.get("/.well-known/openid-configuration")
    assert "max-age" in config.headers.get("Cache-Control", "")


async def test_a_405_problem_keeps_allow(cluster: Cluster) -> None:
    zone = await cluster.start("a")
    wrong = await zone.client.get("/v1/tokens/renew")
    assert wrong.status == 405 and wrong.content_type == PROBLEM
    assert wrong.headers.get("Allow") == "POST"


async def post_noting_cache(
    seen: dict[str, str | None], name: str, zone: Zone, path: str, body: Any, auth: str | None
) -> Any:
    """POST (200 expected), noting the answer's Cache-Control under ``name``."""
    headers = bearer(auth) if auth else {}
    response = await zone.client.post(path, json=body, headers=headers)
    assert response.status == 200, (name, await response.text())
    seen[name] = response.headers.get("Cache-Control")
    return await response.json()


async def test_enrolment_and_second_step_answers_with_secrets_are_not_cached(
    cluster: Cluster, smtp_sink: SmtpSink
) -> None:
    """The wizard's answers (activation, TOTP secret and QR, recovery code), auth's token
    after the second factor and a new recovery code: each ``Cache-Control: no-store``."""
    async for rig in start(cluster, smtp_sink):
        await two_factor_practice(rig)
        login_id, token = await enrol_login(rig)
        seen: dict[str, str | None] = {}
        post = partial(post_noting_cache, seen)
        started = await post("enrolment", rig.enrol, "/v1/enrolment", None, token)
        enrolment = f"/v1/enrolment/{started['enrolment_id']}"
        code = await rig.code(PIET_EMAIL, "activatiecode")
        identity = {"activation_code": code, "birth_date": PIET_BIRTH, "bsn": PIET_BSN}
        shown = await post("identity", rig.enrol, f"{enrolment}/identity", identity, token)
        confirm = {"code": totp(shown["secret"])}
        await post("confirm", rig.enrol, f"{enrolment}/confirm", confirm, token)
        verify = {"factor": "totp", "code": totp(shown["secret"], 30)}
        issued = await post("verify", rig.auth, f"/v1/login/{login_id}/verify", verify, None)
        await post("recovery-code", rig.enrol, "/v1/recovery-code", None, issued["token"])
        assert seen == {name: "no-store" for name in seen}, seen
