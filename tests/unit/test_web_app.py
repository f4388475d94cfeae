"""The web app's middleware in-process (no services behind it): headers on every page, the
session cookie's flags, and a state-changing request refused without the CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.web.app import create_app
from services.web.session import COOKIE
from services.web.settings import WebSettings

WebClient = TestClient[Any, Any]


async def client_for(tls_proxy: bool = False) -> WebClient:
    app = create_app(WebSettings(zones=[{"auth": "http://127.0.0.1:9"}], tls_proxy=tls_proxy))
    client: WebClient = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def web() -> AsyncIterator[WebClient]:
    client = await client_for()
    yield client
    await client.close()


async def test_a_page_has_the_security_headers_and_a_strict_cookie(web: WebClient) -> None:
    page = await web.get("/login", headers={"Accept-Language": "en"})
    assert page.status == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
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


async def test_secure_cookie_behind_a_tls_proxy_only_when_trusted() -> None:
    for tls_proxy, secure in ((True, True), (False, False)):
        web = await client_for(tls_proxy=tls_proxy)
        try:
            page = await web.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert ("Secure" in page.headers["Set-Cookie"]) is secure
        finally:
            await web.close()
