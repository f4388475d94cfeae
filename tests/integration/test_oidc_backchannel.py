"""Back-Channel Logout 1.0 end to end on real parts (issue 23, ADR 0011): two auth zones that
each sweep for ended grants, the notifier, a broker, and an application's logout endpoint (an
aiohttp server). However the session ends — a logout of the SSO session, a password change —
the application receives one logout token, which verifies against the deployment's JWKS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from services.auth.domain.clients import Registration
from tests.integration.test_oidc_provider import (
    REDIRECT,
    code_for,
    exchange,
    keys_of,
    pkce,
    sso_token,
)
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.tokens import change_own_password

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class LogoutEndpoint:
    tokens: list[str] = field(default_factory=list)

    async def receive(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.tokens.append(str(form["logout_token"]))
        return web.Response(status=200)


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[LogoutEndpoint, str]]:
    received = LogoutEndpoint()
    app = web.Application()
    app.router.add_post("/backchannel", received.receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield received, str(server.make_url("/backchannel"))
    finally:
        await server.close()


async def grant(zone: Zone, sso: str, secret: str) -> dict[str, str]:
    verifier, challenge = pkce()
    code = (await code_for(zone, sso, "app", challenge))["code"]
    status, tokens, _ = await exchange(zone, code, verifier, secret)
    assert status == 200, tokens
    return tokens


async def start(cluster: Cluster, uri: str) -> tuple[Zone, Zone, str]:
    a, b = await cluster.start("a"), await cluster.start("b")
    await cluster.start("a", "notifier")
    await cluster.bootstrap(a)
    registration = Registration(redirect_uris=(REDIRECT,), backchannel_logout_uri=uri)
    secret = await a.use_cases.clients.register("app", "App", registration)
    assert secret is not None

    async def known_in_b() -> bool:
        return await b.use_cases.clients.get("app") is not None

    await wait_for(known_in_b, what="the client in zone b")
    return a, b, secret


def verified(token: str, keys: KeySet, issuer: str) -> dict[str, object]:
    decoded = jose_jwt.decode(token, keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "logout+jwt"
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": "app"},
        iat={"essential": True},
        jti={"essential": True},
        sid={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    assert decoded.claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert "nonce" not in decoded.claims
    return dict(decoded.claims)


async def test_a_logout_of_the_sso_session_reaches_the_application_once(
    cluster: Cluster, endpoint: tuple[LogoutEndpoint, str]
) -> None:
    received, uri = endpoint
    a, b, secret = await start(cluster, uri)
    sso = await sso_token(a)
    tokens = await grant(a, sso, secret)
    id_token = jose_jwt.decode(tokens["id_token"], await keys_of(a), algorithms=["RS256"])

    # Zone b has the grant too (it sweeps as well): still one delivery.
    async def grant_in_b() -> bool:
        return bool(await b.auth.pool.fetchval("SELECT count(*) FROM oidc_grants"))

    await wait_for(grant_in_b, what="the grant in zone b")
    logout = await a.client.post("/v1/tokens/revoke", headers={"Authorization": f"Bearer {sso}"})
    assert logout.status == 204

    async def delivered() -> bool:
        return bool(received.tokens)

    await wait_for(delivered, timeout=20, what="the logout token at the application")
    claims = verified(received.tokens[0], await keys_of(b), a.settings.issuer)
    assert claims["sid"] == id_token.claims["sid"] and claims["sub"] == id_token.claims["sub"]
    await asyncio.sleep(3)  # both zones have swept several times meanwhile
    assert len(received.tokens) == 1


async def test_a_password_change_ends_the_grant_and_tells_the_application(
    cluster: Cluster, endpoint: tuple[LogoutEndpoint, str]
) -> None:
    received, uri = endpoint
    a, _, secret = await start(cluster, uri)
    sso = await sso_token(a)
    tokens = await grant(a, sso, secret)
    status, changed = await change_own_password(
        a, sso, ADMIN_PASSWORD, "Een-Ander-Sterk-Wachtwoord-9"
    )
    assert status == 200, changed

    async def delivered() -> bool:
        return bool(received.tokens)

    await wait_for(delivered, timeout=20, what="the logout token after a password change")
    verified(received.tokens[0], await keys_of(a), a.settings.issuer)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await a.client.get("/v1/oidc/userinfo", headers=bearer)).status == 401
