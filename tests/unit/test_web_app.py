"""The web app's middleware in-process (no services behind it): headers on every page, the
session cookie's name and flags, a state-changing request refused without the CSRF token, the
language switch's way back only to a page of this site, and wizard state bound to its login."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.web import session as sessions
from services.web.app import create_app
from services.web.session import COOKIE
from services.web.settings import WebSettings

WebClient = TestClient[Any, Any]
KEY = os.urandom(32)


async def client_for(**settings: Any) -> WebClient:
    app = create_app(
        WebSettings(
            zones=[{"auth": "http://127.0.0.1:9"}],
            session_key=base64.b64encode(KEY).decode(),
            **settings,
        )
    )
    client: WebClient = TestClient(TestServer(app))
    await client.start_server()
    return client


async def csrf_of(web: WebClient) -> str:
    page = await web.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert token
    return token.group(1)


@pytest.fixture
async def web() -> AsyncIterator[WebClient]:
    client = await client_for()
    yield client
    await client.close()


async def test_a_page_has_the_security_headers_and_a_lax_cookie(web: WebClient) -> None:
    page = await web.get("/login", headers={"Accept-Language": "en"})
    assert page.status == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    html = await page.text()
    assert '<html lang="en">' in html and 'name="csrf"' in html
    for name in ("practice", "username", "password"):
        assert f'<label for="{name}">' in html


async def test_a_post_without_the_csrf_token_is_refused(web: WebClient) -> None:
    page = await web.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert token
    refused = await web.post("/login", data={"practice": "p", "username": "u", "password": "x"})
    assert refused.status == 403
    assert "beveiligingskenmerk" in await refused.text()
    assert "frame-ancestors" in refused.headers["Content-Security-Policy"]
    wrong = await web.post("/language", data={"locale": "en", "csrf": token.group(1) + "x"})
    assert wrong.status == 403
    right = await web.post(
        "/language", data={"locale": "en", "csrf": token.group(1)}, allow_redirects=False
    )
    assert right.status == 303


async def test_a_forged_cookie_is_a_new_session() -> None:
    web = await client_for()
    try:
        web.session.cookie_jar.update_cookies({COOKIE: "forged"})
        refused = await web.post("/language", data={"locale": "en", "csrf": "anything"})
        assert refused.status == 403
    finally:
        await web.close()


def set_cookie(page: Any) -> dict[str, str]:
    """The session cookie's Set-Cookie as name=value plus its attributes (lower-case keys)."""
    name, _, rest = page.headers["Set-Cookie"].partition("=")
    value, *attributes = rest.split(";")
    found = {"name": name, "value": value}
    for attribute in attributes:
        key, _, val = attribute.strip().partition("=")
        found[key.lower()] = val
    return found


@pytest.mark.parametrize("https", [{"tls": True}, {"tls_proxy": True}])
async def test_served_over_https_the_cookie_is_host_prefixed_and_secure(
    https: dict[str, bool],
) -> None:
    """Hardening II finding 13: with TWEESTAP_WEB_TLS (or _TLS_PROXY) the cookie is
    ``__Host-``, Secure, Path=/ and has no Domain, whatever a request's headers say; the session
    it carries works."""
    web = await client_for(**https)
    try:
        page = await web.get("/login")
        cookie = set_cookie(page)
        assert cookie["name"] == "__Host-tweestap_session", cookie
        assert "secure" in cookie and cookie["path"] == "/" and "domain" not in cookie, cookie
        assert "httponly" in cookie and cookie["samesite"] == "Lax", cookie
        token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert token
        # The browser sends it back (over https); a plain-named cookie is not the session.
        web.session.cookie_jar.clear()
        sent = await web.post(
            "/language",
            data={"locale": "en", "csrf": token.group(1)},
            headers={"Cookie": f"__Host-tweestap_session={cookie['value']}"},
            allow_redirects=False,
        )
        assert sent.status == 303
        plain = await web.post(
            "/language",
            data={"locale": "en", "csrf": token.group(1)},
            headers={"Cookie": f"tweestap_session={cookie['value']}"},
            allow_redirects=False,
        )
        assert plain.status == 403
    finally:
        await web.close()


async def test_over_plain_http_the_cookie_has_the_plain_name_and_no_secure() -> None:
    """Development (TWEESTAP_WEB_TLS unset): ``tweestap_session``, not Secure, even when a
    request claims https (X-Forwarded-Proto decides nothing)."""
    web = await client_for()
    try:
        page = await web.get("/login", headers={"X-Forwarded-Proto": "https"})
        cookie = set_cookie(page)
        assert cookie["name"] == "tweestap_session" and "secure" not in cookie, cookie
    finally:
        await web.close()


#: Hardening II finding 12: ``back`` values that must never leave the site (browsers strip tab,
#: CR and LF from URLs and read a backslash as a slash).
OPEN_REDIRECTS = [
    "//evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r/evil.com",
    "\t//evil.com",
    " //evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "https://evil.com",
    "http:/evil.com",
    "https:evil.com",
    "javascript:alert(1)",
    "//evil.com/%2F..",
    "///evil.com",
    "/\x00/evil.com",
    "/\x7f/evil.com",
    "/\u2028/evil.com",
    "/login\r\nSet-Cookie: x=1",
    "evil.com",
    "",
]


@pytest.mark.parametrize("back", OPEN_REDIRECTS)
async def test_language_goes_back_only_to_a_page_of_this_site(web: WebClient, back: str) -> None:
    token = await csrf_of(web)
    answer = await web.post(
        "/language", data={"locale": "en", "csrf": token, "back": back}, allow_redirects=False
    )
    assert answer.status == 303, await answer.text()
    assert answer.headers["Location"] == "/", answer.headers["Location"]


@pytest.mark.parametrize(
    "back", ["/", "/factors", "/console/employees?page=2", "/login/step", "/a%2F/b"]
)
async def test_language_goes_back_to_the_page_it_was_asked_on(web: WebClient, back: str) -> None:
    token = await csrf_of(web)
    answer = await web.post(
        "/language", data={"locale": "en", "csrf": token, "back": back}, allow_redirects=False
    )
    assert answer.status == 303 and answer.headers["Location"] == back


def cookie_with(data: dict[str, Any]) -> str:
    return sessions.seal(KEY, {**sessions.new(time.time(), "nl"), **data})


def opened(page: Any) -> dict[str, Any]:
    session = sessions.unseal(KEY, set_cookie(page)["value"], time.time(), 3600, 3600)
    assert session is not None
    return session


async def test_a_wizard_of_another_login_is_dropped(web: WebClient) -> None:
    """Hardening II finding 8: the wizard's state belongs to the login that began it; under
    another login (or none) it is refused and dropped, never used."""
    stale = {
        "login": {"id": "login-b", "zone": 0, "next": "enrol", "factors": [], "factor": None},
        "wizard": {"login": "login-a", "token": "enrolment-token-of-a", "id": "enrolment-a"},
    }
    answer = await web.get(
        "/wizard", headers={"Cookie": f"{COOKIE}={cookie_with(stale)}"}, allow_redirects=False
    )
    assert answer.status == 303 and answer.headers["Location"] == "/login"
    assert "wizard" not in opened(answer)
