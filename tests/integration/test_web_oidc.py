"""The OpenID Provider at the web front door (issue 23, ADR 0011), in-process: the web app in
front of real auth (PostgreSQL, the broker), driven over HTTP as a browser and a relying
party would. Faults before the client and its redirect URI are known to be right are shown
at the provider, never redirected; every later one goes back with ``state`` and ``iss``. The
relays pass auth's answers on without the session cookie or CSRF, and say
``temporarily_unavailable`` when no zone answers. The whole flow with an independent relying
party in Chromium is tests/browser/test_oidc.py's."""

from __future__ import annotations

import base64
import os
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from services.web import session as sessions
from services.web.app import create_app
from services.web.settings import WebSettings
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone
from tests.support.oidc import basic, pkce, query_of, register

WebClient = TestClient[Any, Any]
KEY = os.urandom(32)
ISSUER = "https://tweestap.test"
REDIRECT = "https://app.example/callback"
OTHER_REDIRECT = "https://app.example/other"
LOGGED_OUT = "https://app.example/logged-out"
#: Nothing listens there: every zone refuses the connection.
DEAD = [{"auth": "http://127.0.0.1:9"}]


async def web_for(zones: list[dict[str, str]]) -> WebClient:
    key = base64.b64encode(KEY).decode()
    app = create_app(WebSettings(zones=zones, session_key=key, issuer=ISSUER))
    client: WebClient = TestClient(TestServer(app))
    await client.start_server()
    return client


@dataclass
class Provider:
    auth: Zone
    web: WebClient
    secret: str


@pytest.fixture
async def provider(cluster: Cluster) -> AsyncIterator[Provider]:
    """Auth in zone a (the practice with its administrator; an application ``app`` with one
    redirect URI, ``multi`` with two) and the web in front of it."""
    auth = await cluster.start("a", issuer=ISSUER)
    await cluster.bootstrap(auth)
    secret = await register(auth, "app", (REDIRECT,), post_logout_redirect_uris=(LOGGED_OUT,))
    assert secret is not None
    await register(auth, "multi", (REDIRECT, OTHER_REDIRECT))
    web = await web_for([{"auth": str(auth.client.make_url("")).rstrip("/")}])
    yield Provider(auth, web, secret)
    await web.close()


@pytest.fixture
async def unreachable() -> AsyncIterator[WebClient]:
    """The web with no zone to reach."""
    web = await web_for(DEAD)
    yield web
    await web.close()


def asking(**changes: str | None) -> dict[str, str]:
    """A good authorization request of ``app``, with ``changes`` (None removes one)."""
    _, challenge = pkce()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **changes,
    }
    return {name: value for name, value in params.items() if value is not None}


async def authorize(web: WebClient, query: Any) -> ClientResponse:
    return await web.get(f"/authorize?{urlencode(query)}", allow_redirects=False)


def session_of(web: WebClient) -> dict[str, Any]:
    morsel = web.session.cookie_jar.filter_cookies(web.make_url("/")).get(sessions.COOKIE)
    assert morsel is not None, "no session cookie"
    opened = sessions.unseal(KEY, morsel.value, time.time(), 3600, 3600)
    assert opened is not None
    return opened


async def shown(response: ClientResponse, status: int = 400) -> str:
    """A fault shown at the provider: its page, no redirect anywhere."""
    page = await response.text()
    assert response.status == status, page
    assert "Location" not in response.headers
    assert 'id="oidc-error"' in page
    return page


def back_to_client(response: ClientResponse, redirect: str = REDIRECT) -> dict[str, str]:
    """An answer sent back to the client's redirect URI: its query."""
    assert response.status == 302, response.status
    location = response.headers["Location"]
    assert location.startswith(f"{redirect}?"), location
    return query_of(location)


async def log_in(web: WebClient, password: str = ADMIN_PASSWORD) -> ClientResponse:
    """The login form as the page shows it for the waiting request, posted."""
    page = await (await web.get("/login")).text()
    found = re.search(r'name="pending" value="([^"]+)"', page)
    form = {
        "practice": "fysio",
        "username": "admin",
        "password": password,
        "csrf": session_of(web)["csrf"],
        "pending": found.group(1) if found else "",
    }
    return await web.post("/login", data=form, allow_redirects=False)


# -- faults -------------------------------------------------------------------------------------


async def test_a_fault_in_the_client_or_its_redirect_is_shown_never_redirected(
    provider: Provider,
) -> None:
    web = provider.web
    await shown(await authorize(web, asking(client_id="nobody")))
    await shown(await authorize(web, asking(client_id="../../etc")))
    await shown(await authorize(web, asking(client_id=None)))
    duplicated = [*asking().items(), ("client_id", "app")]
    await shown(await authorize(web, duplicated))
    twice = [*asking().items(), ("redirect_uri", REDIRECT)]
    await shown(await authorize(web, twice))
    await shown(await authorize(web, asking(redirect_uri="https://evil.example/callback")))
    await shown(await authorize(web, asking(redirect_uri=REDIRECT + "/")))
    await shown(await authorize(web, asking(redirect_uri=REDIRECT + "?x=1")))
    await shown(await authorize(web, asking(client_id="multi", redirect_uri=None)))
    forged = asking(request_uri="urn:ietf:params:oauth:request_uri:forged")
    await shown(await authorize(web, forged))
    # Even a request that is wrong in every other way is not redirected to an unknown URI.
    page = await shown(
        await authorize(web, asking(redirect_uri="https://evil.example/", response_type="token"))
    )
    assert "evil.example" not in page.split('id="oidc-detail"')[0].split("<main")[1]


async def test_a_redirect_uri_may_be_left_out_by_a_client_with_one(provider: Provider) -> None:
    answer = await authorize(provider.web, asking(redirect_uri=None, prompt="none"))
    assert back_to_client(answer)["error"] == "login_required"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"prompt": "none"}, "login_required"),
    ],
)
async def test_a_fault_in_the_request_goes_back_with_state_and_iss(
    provider: Provider, changes: dict[str, str | None], error: str
) -> None:
    answer = back_to_client(await authorize(provider.web, asking(**changes)))
    assert answer["error"] == error and answer["error_description"]
    assert answer["state"] == "st-123" and answer["iss"] == ISSUER
    assert "code" not in answer


async def test_a_parameter_given_twice_goes_back_as_invalid_request(provider: Provider) -> None:
    answer = back_to_client(await authorize(provider.web, [*asking().items(), ("scope", "openid")]))
    assert (answer["error"], answer["state"], answer["iss"]) == (
        "invalid_request",
        "st-123",
        ISSUER,
    )
    state_twice = [*asking().items(), ("state", "other")]
    answer = back_to_client(await authorize(provider.web, state_twice))
    assert answer["error"] == "invalid_request" and "state" not in answer


async def test_the_redirect_keeps_the_registered_uris_own_query(cluster: Cluster) -> None:
    auth = await cluster.start("a", issuer=ISSUER)
    with_query = "https://app.example/cb?tenant=7"
    await register(auth, "q", (with_query,))
    web = await web_for([{"auth": str(auth.client.make_url("")).rstrip("/")}])
    try:
        answer = await authorize(web, asking(client_id="q", redirect_uri=with_query, prompt="none"))
    finally:
        await web.close()
    assert answer.headers["Location"].startswith(f"{with_query}&error=login_required")


# -- the login, the SSO session --------------------------------------------------------------


async def test_a_request_waits_for_the_login_and_then_gets_its_code(provider: Provider) -> None:
    web = provider.web
    verifier, challenge = pkce()
    query = asking(code_challenge=challenge, login_hint="admin@fysio", ui_locales="en-GB nl")
    going = await authorize(web, query)
    assert (going.status, going.headers["Location"]) == (303, "/login")
    kept = session_of(web)["oidc"]
    assert kept["params"]["state"] == "st-123" and kept["client"] == "App app"

    page = await web.get("/login")
    html = await page.text()
    assert '<html lang="en">' in html, "ui_locales chose the language"
    assert "continue to App app" in html
    assert 'value="fysio"' in html and 'value="admin"' in html, "login_hint filled the form"
    csp = page.headers["Content-Security-Policy"]
    assert "form-action 'self' https://app.example;" in csp, csp
    cookie = page.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie

    done = await log_in(web)
    assert (done.status, done.headers["Location"]) == (303, "/authorize/resume")
    answer = back_to_client(await web.get("/authorize/resume", allow_redirects=False))
    assert set(answer) == {"code", "state", "iss"} and answer["state"] == "st-123"
    assert answer["iss"] == ISSUER
    assert "oidc" not in session_of(web), "the request is answered"
    again = await web.get("/authorize/resume", allow_redirects=False)
    await shown(again)

    tokens = await web.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        headers=basic("app", provider.secret),
    )
    body = await tokens.json()
    assert tokens.status == 200, body
    assert {"access_token", "id_token", "refresh_token"} <= set(body)
    assert tokens.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in tokens.headers
    info = await web.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status == 200 and (await info.json())["practice"] == "fysio"


async def test_the_sso_session_answers_until_a_login_is_asked_for(provider: Provider) -> None:
    web = provider.web
    await authorize(web, asking())
    await log_in(web)
    back_to_client(await web.get("/authorize/resume", allow_redirects=False))
    sso = session_of(web)["token"]["token"]

    for answered in (asking(), asking(prompt="none"), asking(max_age="3600")):
        assert "code" in back_to_client(await authorize(web, answered)), answered
    assert "code" in back_to_client(await authorize(web, asking(acr_values="aal1 urn:other")))
    assert session_of(web)["token"]["token"] == sso, "the same SSO session throughout"

    for stale in (asking(prompt="login"), asking(max_age="0"), asking(login_hint="other-practice")):
        going = await authorize(web, stale)
        assert (going.status, going.headers["Location"]) == (303, "/login"), stale
    for silent in (asking(prompt="none", max_age="0"), asking(prompt="none", acr_values="aal2")):
        assert back_to_client(await authorize(web, silent))["error"] == "interaction_required"

    # A login for prompt=login is a new session; max_age=0 is met by it, not sent round again.
    await authorize(web, asking(max_age="0"))
    assert (await log_in(web)).headers["Location"] == "/authorize/resume"
    assert "code" in back_to_client(await web.get("/authorize/resume", allow_redirects=False))
    assert session_of(web)["token"]["token"] != sso
    replaced = await provider.auth.client.post(
        "/v1/tokens/renew", headers={"Authorization": f"Bearer {sso}"}
    )
    assert replaced.status == 401, "the re-authentication ended the session it replaced"


async def test_a_step_up_asks_for_a_second_factor(provider: Provider) -> None:
    """``acr_values=aal2`` on a password-only practice: the administrator, who has no second
    factor yet, is sent to set one up (a login with a password alone would not do)."""
    web = provider.web
    going = await authorize(web, asking(acr_values="aal2"))
    assert going.headers["Location"] == "/login"
    assert session_of(web)["oidc"]["second_factor"] is True
    step = await log_in(web)
    assert (step.status, step.headers["Location"]) == (303, "/login/step")
    assert "/wizard" in await (await web.get("/login/step")).text()
    assert "token" not in session_of(web)


async def test_a_gone_sso_session_is_dropped_and_the_login_shown(provider: Provider) -> None:
    web = provider.web
    await authorize(web, asking())
    await log_in(web)
    back_to_client(await web.get("/authorize/resume", allow_redirects=False))
    sso = session_of(web)["token"]["token"]
    revoked = await provider.auth.client.post(
        "/v1/tokens/revoke", headers={"Authorization": f"Bearer {sso}"}
    )
    assert revoked.status in (200, 204)
    silent = back_to_client(await authorize(web, asking(prompt="none")))
    assert silent["error"] == "login_required" and silent["state"] == "st-123"
    assert "token" not in session_of(web)
    going = await authorize(web, asking())
    assert going.headers["Location"] == "/login"


async def signed_in(provider: Provider) -> dict[str, Any]:
    """The administrator logged in for ``app``: its tokens (with the ID token)."""
    web = provider.web
    verifier, challenge = pkce()
    await authorize(web, asking(code_challenge=challenge))
    await log_in(web)
    code = back_to_client(await web.get("/authorize/resume", allow_redirects=False))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    answer = await web.post("/token", data=form, headers=basic("app", provider.secret))
    tokens: dict[str, Any] = await answer.json()
    assert answer.status == 200, tokens
    return tokens


async def sso_lives(provider: Provider, token: str) -> bool:
    renewed = await provider.auth.client.post(
        "/v1/tokens/renew", headers={"Authorization": f"Bearer {token}"}
    )
    return renewed.status == 200


async def test_a_logout_with_this_browsers_hint_ends_the_session_and_goes_back(
    provider: Provider,
) -> None:
    web = provider.web
    tokens = await signed_in(provider)
    sso = session_of(web)["token"]["token"]
    query = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": LOGGED_OUT,
        "state": "bye",
    }
    going = await web.get(f"/end-session?{urlencode(query)}", allow_redirects=False)
    assert (going.status, going.headers["Location"]) == (303, f"{LOGGED_OUT}?state=bye")
    assert "token" not in session_of(web) and not await sso_lives(provider, sso)
    assert (await authorize(web, asking())).headers["Location"] == "/login"

    # Nothing left to end in this browser: straight back (a client's POST as its GET).
    posted = await web.post("/end-session", data=query, allow_redirects=False)
    assert posted.status == 303 and "Set-Cookie" not in posted.headers
    again = await web.get(posted.headers["Location"], allow_redirects=False)
    assert again.headers["Location"] == f"{LOGGED_OUT}?state=bye"


async def test_a_logout_without_a_hint_is_confirmed_first(provider: Provider) -> None:
    web = provider.web
    await signed_in(provider)
    sso = session_of(web)["token"]["token"]
    query = {"client_id": "app", "post_logout_redirect_uri": LOGGED_OUT, "state": "s1"}
    page = await web.get(f"/end-session?{urlencode(query)}", allow_redirects=False)
    html = await page.text()
    assert page.status == 200 and 'action="/end-session/confirm"' in html and "App app" in html
    assert "form-action 'self' https://app.example;" in page.headers["Content-Security-Policy"]
    assert await sso_lives(provider, sso), "a link alone logs nobody out"
    unchecked = await web.post("/end-session/confirm", data={}, allow_redirects=False)
    assert unchecked.status == 403 and await sso_lives(provider, sso)

    stay = await web.get("/end-session/cancel", allow_redirects=False)
    assert stay.status == 303 and "logout" not in session_of(web)
    await web.get(f"/end-session?{urlencode(query)}")
    csrf = session_of(web)["csrf"]
    done = await web.post("/end-session/confirm", data={"csrf": csrf}, allow_redirects=False)
    assert (done.status, done.headers["Location"]) == (303, f"{LOGGED_OUT}?state=s1")
    assert "token" not in session_of(web) and not await sso_lives(provider, sso)

    # Without a way back, a page says so; an unregistered one is refused, not followed.
    await signed_in(provider)
    await web.get("/end-session")
    ended = await web.post(
        "/end-session/confirm", data={"csrf": session_of(web)["csrf"]}, allow_redirects=False
    )
    assert ended.status == 200 and 'id="oidc-logged-out"' in await ended.text()
    evil = {"client_id": "app", "post_logout_redirect_uri": "https://evil.example/"}
    await shown(await web.get(f"/end-session?{urlencode(evil)}", allow_redirects=False))
    forged = await web.get("/end-session?id_token_hint=e30.e30.e30", allow_redirects=False)
    await shown(forged)


async def test_a_pushed_request_is_used_by_its_client_only(provider: Provider) -> None:
    web = provider.web
    pushed = await web.post(
        "/par", data=asking(state="pushed-state"), headers=basic("app", provider.secret)
    )
    body = await pushed.json()
    assert pushed.status == 201 and body["request_uri"].startswith("urn:ietf:params:oauth:")
    assert pushed.headers["Cache-Control"] == "no-store"
    by_uri = {"client_id": "app", "request_uri": body["request_uri"], "state": "ignored"}
    going = await authorize(web, by_uri)
    assert going.headers["Location"] == "/login"
    assert session_of(web)["oidc"]["params"]["state"] == "pushed-state"
    assert session_of(web)["oidc"]["pushed"] is True
    silent = await web.post(
        "/par", data=asking(prompt="none"), headers=basic("app", provider.secret)
    )
    uri = (await silent.json())["request_uri"]
    answer = back_to_client(await authorize(web, {"client_id": "app", "request_uri": uri}))
    assert (answer["error"], answer["state"]) == ("login_required", "st-123")
    await shown(await authorize(web, {"client_id": "multi", "request_uri": uri}))
    await shown(await authorize(web, {"client_id": "app", "request_uri": uri + "x"}))


async def test_the_session_cookie_stays_small_with_the_largest_request(
    provider: Provider,
) -> None:
    """A browser keeps a cookie of at most 4 KiB: the largest request that is kept, and the
    token beside it, fit; a larger one goes back as invalid_request."""
    web = provider.web
    big = back_to_client(await authorize(web, asking(state="s" * 1500, nonce="n" * 500)))
    assert big["error"] == "invalid_request"
    await authorize(web, asking(state="s" * 600, nonce="n" * 300, login_hint="admin@fysio"))
    await log_in(web)
    cookie = web.session.cookie_jar.filter_cookies(web.make_url("/"))[sessions.COOKIE]
    assert {"oidc", "token"} <= set(session_of(web))
    size = len(f"__Host-{sessions.COOKIE}={cookie.value}")
    assert size < 4000, size


# -- relays -----------------------------------------------------------------------------------


async def test_the_api_paths_go_without_the_cookie_and_csrf(provider: Provider) -> None:
    web = provider.web
    discovery = await web.get("/.well-known/openid-configuration")
    document = await discovery.json()
    assert discovery.status == 200 and document["issuer"] == ISSUER
    assert discovery.headers["Cache-Control"].startswith("public")
    keys = await web.get("/.well-known/jwks.json")
    assert keys.status == 200 and (await keys.json())["keys"]
    assert keys.headers["Cache-Control"].startswith("public")

    refused = await web.post("/token", data={"grant_type": "authorization_code", "code": "x"})
    assert refused.status in (400, 401) and "error" in await refused.json()
    assert refused.headers["Cache-Control"] == "no-store"
    wrong = await web.post("/token", data={"grant_type": "x"}, headers=basic("app", "wrong"))
    assert wrong.status == 401 and (await wrong.json())["error"] == "invalid_client"
    assert "WWW-Authenticate" in wrong.headers
    info = await web.get("/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert info.status == 401 and "invalid_token" in info.headers["WWW-Authenticate"]
    for path in ("/par", "/revoke", "/v1/tokens/introspect", "/userinfo"):
        answer = await web.post(path, data={"token": "x"})
        assert answer.status in (400, 401), (path, answer.status)
    for answer in (discovery, keys, refused, wrong, info):
        assert "Set-Cookie" not in answer.headers
    assert not web.session.cookie_jar.filter_cookies(web.make_url("/"))

    # A client's page may post the authorization request: it becomes the same GET, and the
    # POST neither reads nor sets the cookie (a cross-site POST carries none).
    posted = await web.post("/authorize", data=asking(), allow_redirects=False)
    assert posted.status == 303 and "Set-Cookie" not in posted.headers
    assert posted.headers["Location"].startswith("/authorize?response_type=code&client_id=app")


async def test_the_relays_say_temporarily_unavailable_when_no_zone_answers(
    unreachable: WebClient,
) -> None:
    for method, path in (
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/token"),
        ("POST", "/par"),
        ("POST", "/revoke"),
        ("GET", "/userinfo"),
        ("POST", "/userinfo"),
        ("POST", "/v1/tokens/introspect"),
    ):
        answer = await unreachable.request(method, path, data={"grant_type": "refresh_token"})
        assert answer.status == 503, (path, answer.status)
        assert (await answer.json())["error"] == "temporarily_unavailable"
        assert answer.headers["Cache-Control"] == "no-store"
    page = await authorize(unreachable, asking())
    assert page.status == 503 and "Location" not in page.headers


async def test_bodies_too_large_or_malformed_are_refused_before_auth(
    unreachable: WebClient,
) -> None:
    web = unreachable
    large = await web.post("/token", data={"grant_type": "x", "pad": "a" * 40_000})
    assert large.status == 413 and (await large.json())["error"] == "invalid_request"
    huge = await web.post("/token", data=b"a=" + b"b" * 70_000, headers=_form())
    assert huge.status == 413
    for raw in (b"a=%ff%fe", b"code=\xff", b"a=%00", b"&".join([b"a=b"] * 100)):
        bad = await web.post("/token", data=raw, headers=_form())
        assert bad.status == 400, raw
        assert (await bad.json())["error"] == "invalid_request"
    typed = await web.post("/token", json={"grant_type": "x"})
    assert typed.status == 400
    junk = await web.post("/v1/tokens/introspect", data=b"{not json", headers=_json())
    assert junk.status == 400
    posted = await web.post("/authorize", data=b"a=%ff", headers=_form())
    assert posted.status == 400 and "Set-Cookie" not in posted.headers


def _form() -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded"}


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


# -- garbage ------------------------------------------------------------------------------------

#: Values that have broken parsers: control characters, NUL, lone surrogates' neighbours,
#: percent junk, very long ones, other scripts, injection attempts.
NASTY = (
    "",
    " ",
    "\x00",
    "a\r\nSet-Cookie: x=1",
    "%ff%fe",
    "%%",
    "é" * 50,
    "\U0001d518\U0001d52b\U0001d526",
    "x" * 5000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "urn:ietf:params:oauth:request_uri:" + "A" * 300,
    "eyJhbGciOiJub25lIn0.e30.",
    "openid " * 40,
    "\u202etxt.exe",
)
NAMES = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint",
    "ui_locales", "acr_values", "request_uri", "id_token_hint", "post_logout_redirect_uri",
    "grant_type", "code", "refresh_token", "token", "client_assertion", "x",
)  # fmt: skip


async def test_garbage_never_gives_a_server_error(provider: Provider) -> None:
    """Random requests at every endpoint of the provider (a fixed seed: the same ones each
    run): parameters good and nasty, repeated, in queries, forms and JSON. Nothing answers
    5xx, and nothing redirects anywhere but a registered URI or this site."""
    web, rng = provider.web, random.Random(2326)
    paths = (
        "/authorize", "/authorize/resume", "/end-session", "/token", "/par", "/revoke",
        "/userinfo", "/v1/tokens/introspect",
    )  # fmt: skip
    for _ in range(150):
        pairs = list(asking().items()) if rng.random() < 0.5 else []
        for _ in range(rng.randrange(0, 6)):
            value = rng.choice(NASTY) if rng.random() < 0.7 else rng.choice(list(asking().values()))
            pairs.append((rng.choice(NAMES), value))
        rng.shuffle(pairs)
        path = rng.choice(paths)
        headers = basic("app", provider.secret) if rng.random() < 0.3 else {}
        if rng.random() < 0.5:
            answer = await web.get(
                f"{path}?{urlencode(pairs)}", headers=headers, allow_redirects=False
            )
        elif rng.random() < 0.8:
            answer = await web.post(path, data=pairs, headers=headers, allow_redirects=False)
        else:
            answer = await web.post(path, json=dict(pairs), headers=headers, allow_redirects=False)
        assert answer.status < 500, (path, pairs, answer.status, await answer.text())
        location = answer.headers.get("Location", "")
        assert not location or location.startswith(("/", REDIRECT, LOGGED_OUT)), location
