"""Auth's side of the OpenID Provider (issue 23, ADR 0011) on real zones: codes from an SSO
session, the token endpoint (PKCE, client authentication, single use across zones), refresh
rotation with reuse detection, userinfo, RFC 7009 revocation, and every grant's end reaching
the other zone. The browser's side (the web front door, an independent relying party) is
tests/browser/test_oidc.py's."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import secrets
import time
from typing import Any

import jwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from services.auth.domain.clients import Registration
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, metric, wait_for

REDIRECT = "https://app.example/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def sso_token(zone: Zone) -> str:
    status, body = await login(zone, "fysio", "admin", ADMIN_PASSWORD)
    assert status == 200, body
    return str(body["token"]["token"])


async def register(zone: Zone, client_id: str, **registration: Any) -> str | None:
    clients = zone.use_cases.clients
    fields = {"redirect_uris": (REDIRECT,), **registration}
    return await clients.register(client_id, f"App {client_id}", Registration(**fields))


async def code_for(
    zone: Zone, sso: str, client_id: str, challenge: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile email",
        "code_challenge": challenge,
        "nonce": "n-0S6_WzA2Mj",
        **extra,
    }
    response = await zone.client.post(
        "/v1/oidc/authorizations", json=body, headers={"Authorization": f"Bearer {sso}"}
    )
    return {"status": response.status, **(await response.json())}


async def app_with_code(zone: Zone) -> tuple[str, str, str]:
    """The application "app" registered, and a code for it from a new SSO session: its
    secret, the code and the code's PKCE verifier."""
    secret = await register(zone, "app")
    assert secret
    verifier, challenge = pkce()
    code = (await code_for(zone, await sso_token(zone), "app", challenge))["code"]
    return secret, code, verifier


async def token(
    zone: Zone, form: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], Any]:
    response = await zone.client.post("/v1/oidc/token", data=form, headers=headers or {})
    return response.status, await response.json(), response.headers


async def exchange(
    zone: Zone, code: str, verifier: str, secret: str, client_id: str = "app"
) -> tuple[int, dict[str, Any], Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return await token(zone, form, basic(client_id, secret))


async def keys_of(zone: Zone) -> KeySet:
    response = await zone.client.get("/.well-known/jwks.json")
    return KeySet.import_key_set(await response.json())


@pytest.fixture
async def zones(cluster: Cluster) -> tuple[Zone, Zone]:
    a, b = await cluster.start("a"), await cluster.start("b")
    await cluster.bootstrap(a)
    return a, b


async def test_code_flow_gives_tokens_an_independent_library_verifies(
    zones: tuple[Zone, Zone],
) -> None:
    a, _ = zones
    secret = await register(a, "app")
    assert secret is not None
    verifier, challenge = pkce()
    issued = await code_for(a, await sso_token(a), "app", challenge)
    assert issued["status"] == 201 and issued["expires_in"] == 60, issued

    status, tokens, headers = await exchange(a, issued["code"], verifier, secret)
    assert status == 200, tokens
    assert headers["Cache-Control"] == "no-store"
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "openid profile email"
    issuer = a.settings.issuer
    id_token = jose_jwt.decode(tokens["id_token"], await keys_of(a), algorithms=["RS256"])
    assert id_token.header["alg"] == "RS256"
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": "app"},
        nonce={"essential": True, "value": "n-0S6_WzA2Mj"},
        sub={"essential": True},
        auth_time={"essential": True},
        sid={"essential": True},
    ).validate(id_token.claims)
    claims = id_token.claims
    assert claims["practice"] == "fysio" and claims["aal"] == "aal1" and claims["amr"] == ["pwd"]
    assert claims["name"] == "Anna Jansen" and claims["preferred_username"] == "admin"

    # The access token is Tweestap's own (RFC 9068) and works wherever a session token does.
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert access["client_id"] == "app" and access["ssid"] == claims["sid"]
    assert access["sid"] != claims["sid"], "the grant is a session of its own"
    info = await a.client.get(
        "/v1/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status == 200
    email = await a.auth.pool.fetchval("SELECT email FROM employees")
    expected = {
        "sub": claims["sub"],
        "practice": "fysio",
        "name": "Anna Jansen",
        "preferred_username": "admin",
        **({"email": email} if email else {}),
    }
    assert await info.json() == expected


async def test_a_code_is_bound_to_its_verifier_redirect_and_client(
    zones: tuple[Zone, Zone],
) -> None:
    a, _ = zones
    secret = await register(a, "app")
    other = await register(a, "other")
    assert secret and other
    sso = await sso_token(a)
    verifier, challenge = pkce()
    code = (await code_for(a, sso, "app", challenge))["code"]

    wrong_verifier, _ = pkce()
    status, body, _ = await exchange(a, code, wrong_verifier, secret)
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body, _ = await exchange(a, code, verifier, other, client_id="other")
    assert (status, body["error"]) == (400, "invalid_grant"), "another client's code"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT + "/elsewhere",
        "code_verifier": verifier,
    }
    status, body, _ = await token(a, form, basic("app", secret))
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body, headers = await exchange(a, code, verifier, "wrong-secret")
    assert (status, body["error"]) == (401, "invalid_client")
    assert headers["WWW-Authenticate"].startswith("Basic")
    # None of those spent it: the right redemption still works, once.
    status, body, _ = await exchange(a, code, verifier, secret)
    assert status == 200, body


async def test_a_second_redemption_fails_and_ends_what_the_first_gave(
    zones: tuple[Zone, Zone],
) -> None:
    a, b = zones
    secret, code, verifier = await app_with_code(a)
    status, first, _ = await exchange(a, code, verifier, secret)
    assert status == 200
    status, again, _ = await exchange(a, code, verifier, secret)
    assert (status, again["error"]) == (400, "invalid_grant")
    # What the first redemption issued is revoked, in this zone and then in the other.
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert (await a.client.get("/v1/oidc/userinfo", headers=bearer)).status == 401
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, body, _ = await token(a, form, basic("app", secret))
    assert (status, body["error"]) == (400, "invalid_grant")

    async def refused_in_b() -> bool:
        return (await b.client.get("/v1/oidc/userinfo", headers=bearer)).status == 401

    await wait_for(refused_in_b, what="the revocation in zone b")


async def test_concurrent_redemptions_of_one_code_give_tokens_once(
    zones: tuple[Zone, Zone],
) -> None:
    """Six copies of one code at once in one zone: one redemption spends it, every other is
    a second redemption (RFC 6749 §4.1.2), refused and ending what the first gave. A copy
    that waited for the first's spending must see it, though its statement began before the
    first committed (PostgreSQL's snapshot hides that row from it)."""
    a, _ = zones
    secret, code, verifier = await app_with_code(a)
    issued = functools.partial(metric, a, "tweestap_tokens_total", kind="token.issued")
    before = await issued()
    answers = await asyncio.gather(*(exchange(a, code, verifier, secret) for _ in range(6)))
    statuses = sorted(status for status, _, _ in answers)
    assert await issued() - before == statuses.count(200), "only tokens given out count"
    granted = [body for status, body, _ in answers if status == 200]
    assert statuses.count(200) <= 1, statuses
    assert all(body["error"] == "invalid_grant" for status, body, _ in answers if status != 200)
    grants = await a.auth.pool.fetchval("SELECT count(*) FROM oidc_grants WHERE client_id = 'app'")
    assert grants == 1, "one spending, one grant"
    for body in granted:  # ended by the second redemption
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        assert (await a.client.get("/v1/oidc/userinfo", headers=bearer)).status == 401


async def test_concurrent_refreshes_of_one_token_rotate_it_once(
    zones: tuple[Zone, Zone],
) -> None:
    """Six copies of one refresh token at once: one rotates the family, every other is a
    reuse, refused, and ends the family (the rotated token with it)."""
    a, _ = zones
    secret, code, verifier = await app_with_code(a)
    status, first, _ = await exchange(a, code, verifier, secret)
    assert status == 200, first
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    renewed = functools.partial(metric, a, "tweestap_tokens_total", kind="token.renewed")
    before = await renewed()
    answers = await asyncio.gather(*(token(a, form, basic("app", secret)) for _ in range(6)))
    statuses = sorted(status for status, _, _ in answers)
    assert await renewed() - before == statuses.count(200), "only tokens given out count"
    assert statuses.count(200) <= 1, statuses
    assert all(body["error"] == "invalid_grant" for status, body, _ in answers if status != 200)
    for status, body, _ in answers:
        if status == 200:  # rotated once, then ended by the reuse
            again = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
            status, ended, _ = await token(a, again, basic("app", secret))
            assert (status, ended["error"]) == (400, "invalid_grant")


async def test_a_code_from_zone_a_is_redeemed_in_zone_b_once(zones: tuple[Zone, Zone]) -> None:
    a, b = zones
    secret = await register(a, "app")
    assert secret

    async def known_in_b() -> bool:
        return await b.use_cases.clients.get("app") is not None

    await wait_for(known_in_b, what="the client in zone b")
    verifier, challenge = pkce()
    code = (await code_for(a, await sso_token(a), "app", challenge))["code"]
    status, tokens, _ = await exchange(b, code, verifier, secret)
    assert status == 200, tokens
    sid = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]

    async def spent_in_a() -> bool:
        count = await a.auth.pool.fetchval(
            "SELECT count(*) FROM oidc_spent_codes WHERE grant_sid = $1", sid
        )
        return bool(count)

    await wait_for(spent_in_a, what="zone b's spending of the code in zone a")
    status, again, _ = await exchange(a, code, verifier, secret)
    assert (status, again["error"]) == (400, "invalid_grant")


async def test_the_same_code_redeemed_in_both_zones_at_once_ends_both_grants(
    zones: tuple[Zone, Zone], cluster: Cluster
) -> None:
    """Within the replication lag both zones may accept the same code; when each learns of
    the other's spending, both grants end (the window is stated in ADR 0011)."""
    a, b = zones
    secret = await register(a, "app")
    assert secret

    async def known_in_b() -> bool:
        return await b.use_cases.clients.get("app") is not None

    await wait_for(known_in_b)
    verifier, challenge = pkce()
    code = (await code_for(a, await sso_token(a), "app", challenge))["code"]
    (sa, ta, _), (sb, tb, _) = await asyncio.gather(
        *(exchange(zone, code, verifier, secret) for zone in (a, b))
    )
    if sb != 200:
        pytest.skip("zone b had already learnt of zone a's spending (no race to show)")
    assert sa == 200
    for access in (ta["access_token"], tb["access_token"]):
        bearer = {"Authorization": f"Bearer {access}"}

        async def refused(bearer: dict[str, str] = bearer) -> bool:
            statuses = [
                (await zone.client.get("/v1/oidc/userinfo", headers=bearer)).status
                for zone in (a, b)
            ]
            return statuses == [401, 401]

        await wait_for(refused, what="both grants ended in both zones")


async def test_refresh_rotates_and_a_reused_token_ends_the_family(
    zones: tuple[Zone, Zone],
) -> None:
    a, b = zones
    secret, code, verifier = await app_with_code(a)
    _, first, _ = await exchange(a, code, verifier, secret)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second, _ = await token(a, form, basic("app", secret))
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    id_token = jwt.decode(second["id_token"], options={"verify_signature": False})
    assert "nonce" not in id_token and id_token["aud"] == "app"

    # The rotation reaches zone b: the newest token works there, and rotates again.
    async def known_in_b() -> bool:
        return bool(
            await b.auth.pool.fetchval(
                "SELECT generation = 2 FROM oidc_grants WHERE client_id = 'app'"
            )
        )

    await wait_for(known_in_b, what="the rotation in zone b")
    form_b = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    status, third, _ = await token(b, form_b, basic("app", secret))
    assert status == 200, third

    # The first token again (a thief's copy): the whole family ends, in both zones.
    status, body, _ = await token(a, form, basic("app", secret))
    assert (status, body["error"]) == (400, "invalid_grant")

    async def family_ended() -> bool:
        form_3 = {"grant_type": "refresh_token", "refresh_token": third["refresh_token"]}
        statuses = [(await token(zone, form_3, basic("app", secret)))[0] for zone in (a, b)]
        bearer = {"Authorization": f"Bearer {third['access_token']}"}
        info = await b.client.get("/v1/oidc/userinfo", headers=bearer)
        return statuses == [400, 400] and info.status == 401

    await wait_for(family_ended, what="the family ended in both zones")


async def test_a_refresh_token_dies_with_the_sso_session_and_with_revocation(
    zones: tuple[Zone, Zone],
) -> None:
    a, _ = zones
    secret = await register(a, "app")
    assert secret
    sso = await sso_token(a)
    verifier, challenge = pkce()
    code = (await code_for(a, sso, "app", challenge))["code"]
    _, tokens, _ = await exchange(a, code, verifier, secret)
    # RFC 7009: revoking the refresh token ends the grant; the answer is 200 either way.
    revoked = await a.client.post(
        "/v1/oidc/revoke", data={"token": tokens["refresh_token"]}, headers=basic("app", secret)
    )
    assert revoked.status == 200
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await a.client.get("/v1/oidc/userinfo", headers=bearer)).status == 401
    garbage = await a.client.post(
        "/v1/oidc/revoke", data={"token": "nothing-of-ours"}, headers=basic("app", secret)
    )
    assert garbage.status == 200

    # A new grant from the same SSO session ends when the person logs out of it.
    verifier, challenge = pkce()
    code = (await code_for(a, sso, "app", challenge))["code"]
    _, tokens, _ = await exchange(a, code, verifier, secret)
    logout = await a.client.post("/v1/tokens/revoke", headers={"Authorization": f"Bearer {sso}"})
    assert logout.status == 204
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    status, body, _ = await token(a, form, basic("app", secret))
    assert (status, body["error"]) == (400, "invalid_grant")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await a.client.post("/v1/tokens/renew", headers=bearer)).status == 401


async def test_a_public_client_uses_pkce_alone_and_may_not_use_a_secret(
    zones: tuple[Zone, Zone],
) -> None:
    a, _ = zones
    assert await register(a, "native", public=True) is None
    verifier, challenge = pkce()
    code = (await code_for(a, await sso_token(a), "native", challenge))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "client_id": "native",
    }
    status, body, _ = await token(a, {**form, "client_secret": "x"})
    assert (status, body["error"]) == (401, "invalid_client")
    status, body, _ = await token(a, form)
    assert status == 200, body
    # A confidential client may not pass as public by leaving its secret out.
    secret = await register(a, "app")
    assert secret
    status, body, _ = await token(a, {**form, "client_id": "app"})
    assert (status, body["error"]) == (401, "invalid_client")


async def test_private_key_jwt_assertions(zones: tuple[Zone, Zone], cluster: Cluster) -> None:
    """RFC 7523: the client signs an assertion with a key its jwks_uri publishes; a replayed
    or wrongly addressed one is refused."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    a, _ = zones
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "use": "sig"}
    keys_app = web.Application()

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response({"keys": [public]})

    keys_app.router.add_get("/jwks", jwks)
    server = TestServer(keys_app, host="127.0.0.1")
    await server.start_server()
    try:
        jwks_uri = str(server.make_url("/jwks"))
        assert await register(a, "signed", jwks_uri=jwks_uri) is None
        verifier, challenge = pkce()
        code = (await code_for(a, await sso_token(a), "signed", challenge))["code"]
        now = int(time.time())
        claims = {
            "iss": "signed",
            "sub": "signed",
            "aud": a.settings.issuer.rstrip("/") + "/token",
            "iat": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(8),
        }
        assertion = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        wrong_aud = jwt.encode(
            {**claims, "aud": "https://elsewhere.example", "jti": "other"},
            key,
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        status, body, _ = await token(a, {**form, "client_assertion": wrong_aud})
        assert (status, body["error"]) == (401, "invalid_client")
        status, body, _ = await token(a, form)
        assert status == 200, body
        status, body, _ = await token(a, form)
        assert (status, body["error"]) == (401, "invalid_client"), "a replayed assertion"
    finally:
        await server.close()


async def test_bad_token_requests_get_oauth_errors_never_500(zones: tuple[Zone, Zone]) -> None:
    a, _ = zones
    secret = await register(a, "app")
    assert secret
    auth = basic("app", secret)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 400, "invalid_request"),
        (
            {"grant_type": "password", "username": "x", "password": "y"},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "authorization_code"}, 400, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "v1.t1.AAAA"}, 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "x" * 9000}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "\x00"}, 400, "invalid_request"),
    ]
    for form, status, error in cases:
        got, body, _ = await token(a, form, auth)
        assert (got, body["error"]) == (status, error), form
    doubled = await a.client.post(
        "/v1/oidc/token",
        data="grant_type=refresh_token&grant_type=authorization_code",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert doubled.status == 400 and (await doubled.json())["error"] == "invalid_request"
    as_json = await a.client.post("/v1/oidc/token", json={"grant_type": "x"}, headers=auth)
    assert as_json.status == 400 and (await as_json.json())["error"] == "invalid_request"
    bad_basic = await a.client.post(
        "/v1/oidc/token", data={"grant_type": "x"}, headers={"Authorization": "Basic !!!"}
    )
    assert bad_basic.status == 401


async def test_codes_need_a_live_sso_session_and_a_registered_redirect(
    zones: tuple[Zone, Zone],
) -> None:
    a, _ = zones
    await register(a, "app")
    sso = await sso_token(a)
    _, challenge = pkce()
    elsewhere = await code_for(a, sso, "app", challenge, redirect_uri="https://evil.example/cb")
    assert elsewhere["status"] == 400
    unknown = await code_for(a, sso, "nobody", challenge)
    assert unknown["status"] == 404
    plain = await code_for(a, sso, "app", "short")
    assert plain["status"] == 400
    no_openid = await code_for(a, sso, "app", challenge, scope="profile")
    assert no_openid["status"] == 400
    await a.client.post("/v1/tokens/revoke", headers={"Authorization": f"Bearer {sso}"})
    ended = await code_for(a, sso, "app", challenge)
    assert ended["status"] == 401


async def test_pushed_requests_are_sealed_for_their_client(zones: tuple[Zone, Zone]) -> None:
    a, _ = zones
    secret = await register(a, "app")
    other = await register(a, "other")
    assert secret and other
    _, challenge = pkce()
    form = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
    }
    pushed = await a.client.post("/v1/oidc/par", data=form, headers=basic("app", secret))
    assert pushed.status == 201
    request_uri = (await pushed.json())["request_uri"]
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    resolved = await a.client.post(
        "/v1/oidc/par/resolve", json={"client_id": "app", "request_uri": request_uri}
    )
    assert resolved.status == 200
    assert (await resolved.json())["parameters"]["state"] == "xyz"
    stolen = await a.client.post(
        "/v1/oidc/par/resolve", json={"client_id": "other", "request_uri": request_uri}
    )
    assert stolen.status == 400
    implicit = await a.client.post(
        "/v1/oidc/par", data={**form, "response_type": "token"}, headers=basic("app", secret)
    )
    assert implicit.status == 400
    assert (await implicit.json())["error"] == "unsupported_response_type"
    unregistered = await a.client.post(
        "/v1/oidc/par",
        data={**form, "redirect_uri": "https://evil.example/"},
        headers=basic("app", secret),
    )
    assert unregistered.status == 400


async def test_a_client_with_a_minimum_level_gets_no_code_for_a_session_below_it(
    zones: tuple[Zone, Zone],
) -> None:
    """ADR 0012: an application registered at ``substantial`` is refused a password-only SSO
    session (naming the level, for the front door to step up); its ID token's ``acr`` is the
    eIDAS level of the session, ``aal`` Tweestap's own."""
    a, _ = zones
    assert await register(a, "strict", min_level="substantial") is not None
    secret = await register(a, "app")
    assert secret is not None
    sso = await sso_token(a)
    _, challenge = pkce()
    refused = await code_for(a, sso, "strict", challenge)
    assert refused["status"] == 403, refused
    assert refused["type"].endswith("/assurance-level-too-low"), refused
    assert refused["level"] == "substantial"
    assert refused["acr"] == "http://eidas.europa.eu/LoA/substantial"

    verifier, challenge = pkce()
    issued = await code_for(a, sso, "app", challenge)
    status, tokens, _ = await exchange(a, issued["code"], verifier, secret)
    assert status == 200, tokens
    id_token = jose_jwt.decode(tokens["id_token"], await keys_of(a), algorithms=["RS256"])
    assert id_token.claims["acr"] == "http://eidas.europa.eu/LoA/low"
    assert id_token.claims["aal"] == "aal1"
    introspected = await a.client.post(
        "/v1/tokens/introspect",
        data={"token": tokens["access_token"]},
        headers=basic("app", secret),
    )
    shown = await introspected.json()
    assert introspected.status == 200 and shown["active"] is True, shown
    assert (shown["acr"], shown["aal"]) == ("http://eidas.europa.eu/LoA/low", "aal1"), shown
