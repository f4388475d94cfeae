"""The SDK's relay (a server-side front door passing someone else's call on, the OpenID
Provider's endpoints at the web) against the real auth service: no token of its own, the
caller's headers and body as given, every answer below 500 returned as it is, and the same
failover as every call — a call that is not repeatable moves only when the first zone cannot
have acted on it. And the login's step-up (``second_factor``)."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tweestap_client import TweestapClient, ZonesUnavailable

from tests.support.cluster import ADMIN_PASSWORD, Cluster
from tests.support.sdk import HungZone, url

#: Nothing listens there: a connection to it is refused (nothing reached a server).
REFUSED = "http://127.0.0.1:9"
SHORT = aiohttp.ClientTimeout(total=1, sock_connect=1)


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_a_relay_passes_the_callers_headers_and_every_answer_on(cluster: Cluster) -> None:
    a = await cluster.start("a", login_rate_attempts=1)
    secret = await a.use_cases.clients.add("relying-service", "A relying service")
    async with TweestapClient([REFUSED, url(a)], hedge_after=None) as client:
        keys = await client.relay("GET", "/.well-known/jwks.json", repeatable=True)
        assert keys.status == 200 and keys.body["keys"]
        assert keys.headers["cache-control"].startswith("public"), "headers: any case"
        assert client.zone == 1, "a refused connection moves any call"
        assert client.token is None, "a relay holds no session"

        body = {"token": "not-a-token"}
        ok = await client.relay(
            "POST",
            "/v1/tokens/introspect",
            json=body,
            headers=basic("relying-service", secret),
            repeatable=False,
        )
        assert (ok.status, ok.body) == (200, {"active": False}), ok.body
        refused = await client.relay("POST", "/v1/tokens/introspect", json=body, repeatable=False)
        assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")

        # A 429 is an answer to pass on (with its Retry-After), not an error of the relay.
        login = {"practice": "fysio", "username": "nobody", "password": "wrong"}
        statuses = [
            (await client.relay("POST", "/v1/login", json=login, repeatable=False)).status
            for _ in range(2)
        ]
        assert statuses == [401, 429]


async def test_a_form_goes_as_given_with_repeats_and_order() -> None:
    seen: list[tuple[str, bytes, str | None]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append((request.content_type, await request.read(), request.headers.get("X-Mine")))
        return web.json_response({"error": "invalid_request"}, status=400)

    app = web.Application()
    app.router.add_post("/v1/oidc/token", echo)
    server = TestServer(app)
    await server.start_server()
    try:
        zone = str(server.make_url("")).rstrip("/")
        async with TweestapClient([zone], hedge_after=None) as client:
            answer = await client.relay(
                "POST",
                "/v1/oidc/token",
                form=[("grant_type", "authorization_code"), ("code", "a b&c"), ("code", "2")],
                headers={"X-Mine": "kept"},
                repeatable=False,
            )
    finally:
        await server.close()
    assert (answer.status, answer.body) == (400, {"error": "invalid_request"})
    assert seen == [
        (
            "application/x-www-form-urlencoded",
            b"grant_type=authorization_code&code=a+b%26c&code=2",
            "kept",
        )
    ]


async def test_a_relay_that_may_have_acted_is_not_repeated_elsewhere(
    cluster: Cluster, hung: HungZone
) -> None:
    a = await cluster.start("a")
    stuck = await hung.start()
    async with TweestapClient([stuck, url(a)], hedge_after=0.1, timeout=SHORT) as client:
        with pytest.raises(ZonesUnavailable):
            await client.relay("POST", "/v1/oidc/token", form={"grant_type": "x"}, repeatable=False)
        assert hung.requests == [b"POST /v1/oidc/token HTTP/1.1\r\n"]
    async with TweestapClient([stuck, url(a)], hedge_after=0.1, timeout=SHORT) as client:
        keys = await asyncio.wait_for(
            client.relay("GET", "/.well-known/jwks.json", repeatable=True), timeout=5
        )
        assert keys.status == 200 and client.hedges == 1, "a repeatable GET is hedged"


async def test_a_step_up_login_asks_for_a_second_factor(cluster: Cluster) -> None:
    """The demo practice needs one factor; asked for two, the administrator (who has none
    yet) is sent to enrol, and a login without the flag still completes with the password."""
    a = await cluster.start("a")
    await cluster.bootstrap(a)
    async with TweestapClient([url(a)], hedge_after=None) as client:
        plain = await client.login("fysio", "admin", ADMIN_PASSWORD)
        assert plain.next == "done"
        await client.logout()
        stepped = await client.login("fysio", "admin", ADMIN_PASSWORD, second_factor=True)
        assert stepped.next == "enrol" and stepped.enrolment_token, stepped.body
        assert client.token is None
