"""Tweestap as an OpenID Provider through a real browser (issue 23, ADR 0011), with an
independent relying party: Authlib's ``AsyncOAuth2Client`` (over httpx2) makes the requests
and redeems the codes, joserfc checks the ID tokens against the provider's JWKS, and
Chromium carries the person from the application's site (``127.0.0.1``: another site than
the provider's ``localhost``, so the session cookie crosses as a browser sends it) through
Tweestap's own login pages and back.

Code + PKCE → tokens → the ID token verified → userinfo → a refresh (rotated; the old refresh
token used again ends the family) → a second application signed in without a password (SSO)
→ ``prompt=login`` and ``max_age`` ask the password again (a re-authentication is a new
session: the second application hears of the old one's end by back-channel logout) →
``acr_values=aal2`` asks a second factor (TOTP from oathtool) → RP-initiated logout, and the
second application hears of it by back-channel logout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from selenium.webdriver.remote.webdriver import WebDriver

from services.auth.domain.clients import Registration
from shared import otp
from tests.support.browser import Browser, serve_web
from tests.support.cluster import ADMIN_PASSWORD, Cluster, wait_for
from tests.support.factors import add_factor
from tests.support.oidc import free_port_in, query_of
from tests.support.story import Authenticator

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SCOPE = "openid profile email"


@dataclass
class Application:
    """The relying party's site: a page with a link to wherever it sends the person next, its
    redirect URIs, where a logout comes back to, and its back-channel logout endpoint."""

    origin: str
    next: str = ""
    callbacks: list[str] = field(default_factory=list)
    logouts: list[str] = field(default_factory=list)
    logout_tokens: list[str] = field(default_factory=list)

    async def home(self, request: web.Request) -> web.Response:
        link = f'<a id="go" href="{self.next}">Inloggen met Tweestap</a>'
        return web.Response(
            text=f"<!doctype html><title>App</title>{link}", content_type="text/html"
        )

    async def callback(self, request: web.Request) -> web.Response:
        self.callbacks.append(str(request.url))
        return web.Response(text='<!doctype html><p id="back">back</p>', content_type="text/html")

    async def logged_out(self, request: web.Request) -> web.Response:
        self.logouts.append(str(request.url))
        return web.Response(text='<!doctype html><p id="bye">bye</p>', content_type="text/html")

    async def backchannel(self, request: web.Request) -> web.Response:
        self.logout_tokens.append(str((await request.post())["logout_token"]))
        return web.Response(status=200)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.home)
        app.router.add_get("/callback", self.callback)
        app.router.add_get("/callback2", self.callback)
        app.router.add_get("/logged-out", self.logged_out)
        app.router.add_post("/backchannel", self.backchannel)
        return app


@dataclass
class Provider:
    browser: Browser
    site: Application
    issuer: str
    discovery: dict[str, Any]
    keys: KeySet
    phone: Authenticator
    secrets: dict[str, str]
    clients: list[AsyncOAuth2Client] = field(default_factory=list)


@pytest.fixture
async def provider(cluster: Cluster, driver: WebDriver) -> AsyncIterator[Provider]:
    web_port = free_port_in()
    site_port = free_port_in(taken=(web_port,))
    issuer = f"http://localhost:{web_port}"
    site = Application(f"http://127.0.0.1:{site_port}")
    auth = await cluster.start("a", issuer=issuer, oidc_logout_sweep_seconds=0.2)
    await cluster.start("a", "notifier")
    employee = await cluster.bootstrap(auth)
    secret = otp.new_secret()
    await add_factor([auth], employee, "totp", {"secret": secret})
    secrets: dict[str, str] = {}
    for client_id, registration in (
        (
            "app",
            Registration(
                redirect_uris=(f"{site.origin}/callback",),
                post_logout_redirect_uris=(f"{site.origin}/logged-out",),
            ),
        ),
        (
            "app2",
            Registration(
                redirect_uris=(f"{site.origin}/callback2",),
                backchannel_logout_uri=f"{site.origin}/backchannel",
            ),
        ),
    ):
        given = await auth.use_cases.clients.register(client_id, f"App {client_id}", registration)
        assert given is not None
        secrets[client_id] = given
    server = TestServer(site.app(), host="127.0.0.1", port=site_port)
    await server.start_server()
    zone = {"auth": str(auth.client.make_url("")).rstrip("/")}
    try:
        async for url in serve_web([zone], web_port, issuer=issuer):
            assert url == issuer
            driver.delete_all_cookies()
            async with httpx2.AsyncClient() as plain:
                discovery = (await plain.get(f"{issuer}/.well-known/openid-configuration")).json()
                keys = KeySet.import_key_set((await plain.get(discovery["jwks_uri"])).json())
            provider = Provider(
                Browser(driver, url), site, issuer, discovery, keys, Authenticator(secret), secrets
            )
            yield provider
            for client in provider.clients:
                await client.aclose()
    finally:
        await server.close()


@dataclass
class SignedIn:
    client: AsyncOAuth2Client
    token: dict[str, Any]
    claims: dict[str, Any]


def relying_party(p: Provider, client_id: str) -> AsyncOAuth2Client:
    path = "/callback" if client_id == "app" else "/callback2"
    client = AsyncOAuth2Client(
        client_id,
        p.secrets[client_id],
        scope=SCOPE,
        redirect_uri=f"{p.site.origin}{path}",
        code_challenge_method="S256",
    )
    p.clients.append(client)
    return client


async def follow(p: Provider, url: str) -> None:
    """The person follows the application's link to ``url`` (a navigation from its site)."""
    p.site.next = url
    await p.browser.run(p.browser.driver.get, f"{p.site.origin}/")
    await p.browser.click("#go")


async def password(p: Provider) -> None:
    await p.browser.fill(practice="fysio", username="admin", password=ADMIN_PASSWORD)
    await p.browser.submit()


async def totp(p: Provider) -> None:
    await p.browser.click("#factor-totp")
    await p.browser.fill(code=p.phone.code())
    await p.browser.submit()


async def back_at_the_application(p: Provider, before: int) -> dict[str, str]:
    async def arrived() -> bool:
        return len(p.site.callbacks) > before

    await wait_for(arrived, timeout=20, what="the browser back at the application")
    return query_of(p.site.callbacks[-1])


async def sign_in(
    p: Provider, client_id: str, *steps: Any, **params: str
) -> tuple[SignedIn | None, dict[str, str]]:
    """An authorization request of ``client_id`` followed in the browser (``steps``: what the
    person does on the provider's pages), its code redeemed and its ID token checked; an
    error answer is returned as it came (no tokens)."""
    rp = relying_party(p, client_id)
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = rp.create_authorization_url(
        p.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **params
    )
    before = len(p.site.callbacks)
    await follow(p, url)
    for step in steps:
        await step(p)
    answer = await back_at_the_application(p, before)
    assert answer["state"] == state and answer["iss"] == p.issuer, answer
    if "error" in answer:
        return None, answer
    token = await rp.fetch_token(
        p.discovery["token_endpoint"],
        authorization_response=p.site.callbacks[-1],
        code_verifier=verifier,
        state=state,
    )
    decoded = jose_jwt.decode(token["id_token"], p.keys, algorithms=["RS256", "EdDSA"])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": p.issuer},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        auth_time={"essential": True},
        sid={"essential": True},
        acr={"essential": True},
    ).validate(decoded.claims)
    return SignedIn(rp, token, dict(decoded.claims)), answer


def logout_token(p: Provider, token: str) -> dict[str, Any]:
    decoded = jose_jwt.decode(token, p.keys, algorithms=["RS256", "EdDSA"])
    assert decoded.header["typ"] == "logout+jwt"
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": p.issuer},
        aud={"essential": True, "value": "app2"},
        sid={"essential": True},
    ).validate(decoded.claims)
    assert decoded.claims["events"] == {BACKCHANNEL_EVENT: {}}
    return dict(decoded.claims)


async def logout_tokens(p: Provider, count: int) -> list[dict[str, Any]]:
    async def delivered() -> bool:
        return len(p.site.logout_tokens) >= count

    await wait_for(delivered, timeout=20, what=f"{count} back-channel logout token(s)")
    return [logout_token(p, token) for token in p.site.logout_tokens]


async def test_an_independent_relying_party_logs_in_through_the_provider(
    provider: Provider,
) -> None:
    p = provider
    assert p.discovery["issuer"] == p.issuer
    for endpoint in ("authorization", "token", "userinfo", "end_session"):
        assert p.discovery[f"{endpoint}_endpoint"].startswith(p.issuer + "/")

    # Code + PKCE through the login page; the ID token, userinfo.
    first, _ = await sign_in(p, "app", password)
    assert first is not None
    claims = first.claims
    assert (claims["aal"], claims["amr"], claims["practice"]) == ("aal1", ["pwd"], "fysio")
    assert claims["acr"] == "http://eidas.europa.eu/LoA/low"
    info = await first.client.get(p.discovery["userinfo_endpoint"])
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
    assert info.json()["name"] == "Anna Jansen"

    # A refresh rotates the refresh token; the old one used again ends the family.
    old = first.token["refresh_token"]
    renewed = await first.client.refresh_token(p.discovery["token_endpoint"], refresh_token=old)
    assert renewed["refresh_token"] != old and renewed["access_token"]
    with pytest.raises(OAuthError) as reused:
        await first.client.refresh_token(p.discovery["token_endpoint"], refresh_token=old)
    assert reused.value.error == "invalid_grant"
    with pytest.raises(OAuthError):
        await first.client.refresh_token(
            p.discovery["token_endpoint"], refresh_token=renewed["refresh_token"]
        )

    async def access_ended() -> bool:
        answer = await first.client.get(p.discovery["userinfo_endpoint"])
        return bool(answer.status_code == 401)

    await wait_for(access_ended, what="the family's access token refused")

    # A second application: the SSO session answers, no password.
    second, _ = await sign_in(p, "app2")
    assert second is not None
    assert second.claims["sid"] == claims["sid"]
    assert second.claims["auth_time"] == claims["auth_time"]

    # prompt=login and max_age ask for the password; each login is a new session, and the
    # second application hears that the session it held has ended.
    await asyncio.sleep(1.1)  # auth_time is in whole seconds
    again, _ = await sign_in(p, "app", password, prompt="login")
    assert again is not None and again.claims["auth_time"] > claims["auth_time"]
    assert again.claims["sid"] != claims["sid"]
    [ended] = await logout_tokens(p, 1)
    assert ended["sid"] == claims["sid"] and ended["sub"] == claims["sub"]
    await asyncio.sleep(2.1)
    aged, _ = await sign_in(p, "app", password, max_age="1")
    assert aged is not None and aged.claims["auth_time"] > again.claims["auth_time"]
    fresh, _ = await sign_in(p, "app", max_age="60")
    assert fresh is not None and fresh.claims["sid"] == aged.claims["sid"], "young enough: SSO"

    # acr_values=aal2: the password and a second factor, though the practice asks one.
    stepped, _ = await sign_in(p, "app", password, totp, acr_values="aal2")
    assert stepped is not None
    assert stepped.claims["aal"] == "aal2" and "otp" in stepped.claims["amr"]
    held, _ = await sign_in(p, "app2", acr_values="aal2")
    assert held is not None and held.claims["sid"] == stepped.claims["sid"], "SSO at aal2"

    # RP-initiated logout with the ID token as hint: back at the application with its state;
    # the SSO session is gone, and the second application hears of it.
    before = len(p.site.logouts)
    query = {
        "id_token_hint": stepped.token["id_token"],
        "post_logout_redirect_uri": f"{p.site.origin}/logged-out",
        "state": "bye-1",
    }
    await follow(p, f"{p.discovery['end_session_endpoint']}?{urlencode(query)}")

    async def logged_out() -> bool:
        return len(p.site.logouts) > before

    await wait_for(logged_out, what="the browser back at the application's logout page")
    assert query_of(p.site.logouts[-1]) == {"state": "bye-1"}
    _, silent = await sign_in(p, "app", prompt="none")
    assert silent["error"] == "login_required"
    tokens = await logout_tokens(p, 2)
    assert [token["sid"] for token in tokens] == [claims["sid"], stepped.claims["sid"]]
