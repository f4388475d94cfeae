"""The integration guide's relying application (docs/integrate.md, between the
``relying-party`` markers) is run exactly as written: only its configuration (issuer, client
id and secret, redirect URI) is set, as its reader would. Chromium goes from the application's
``/login`` through Tweestap's login page and back to its ``/callback``, which shows who logged
in: the guide's code works against the provider (issue 23)."""

from __future__ import annotations

import re
import types
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from selenium.webdriver.remote.webdriver import WebDriver

from services.auth.domain.clients import Registration
from tests.support.browser import Browser, serve_web
from tests.support.cluster import ADMIN_PASSWORD, Cluster
from tests.support.oidc import free_port_in

GUIDE = Path(__file__).parents[2] / "docs" / "integrate.md"
BLOCK = re.compile(
    r"<!-- relying-party: begin -->\n```python\n(.*?)```\n<!-- relying-party: end -->", re.S
)


def guide_module() -> types.ModuleType:
    """The guide's code, as a module of its own (its ``__main__`` part does not run)."""
    found = BLOCK.search(GUIDE.read_text())
    assert found, "docs/integrate.md has the relying-party example"
    module = types.ModuleType("relying_party")
    exec(compile(found.group(1), str(GUIDE), "exec"), module.__dict__)  # noqa: S102 - our doc
    return module


@pytest.fixture
async def application(cluster: Cluster, driver: WebDriver) -> AsyncIterator[Browser]:
    web_port = free_port_in()
    app_port = free_port_in(taken=(web_port,))
    issuer = f"http://localhost:{web_port}"
    redirect = f"http://127.0.0.1:{app_port}/callback"
    auth = await cluster.start("a", issuer=issuer)
    await cluster.bootstrap(auth)
    registration = Registration(redirect_uris=(redirect,))
    secret = await auth.use_cases.clients.register("my-app", "My app", registration)
    guide = guide_module()
    config = vars(guide)
    assert config["CLIENT_ID"] == "my-app"
    config.update(ISSUER=issuer, CLIENT_SECRET=secret, REDIRECT_URI=redirect)
    zone = {"auth": str(auth.client.make_url("")).rstrip("/")}
    async for url in serve_web([zone], web_port, issuer=issuer):
        server = TestServer(guide.make_app(), host="127.0.0.1", port=app_port)
        await server.start_server()
        try:
            driver.delete_all_cookies()
            yield Browser(driver, f"http://127.0.0.1:{app_port}")
        finally:
            await server.close()
        assert url == issuer


async def test_the_guides_application_logs_someone_in(application: Browser) -> None:
    browser = application
    await browser.open("/login")
    await browser.wait_text("Inloggen")  # Tweestap's own login page (a Dutch browser)
    await browser.fill(practice="fysio", username="admin", password=ADMIN_PASSWORD)
    await browser.submit()
    shown = await browser.wait_text("Hello", css="body")
    assert shown == "Hello Anna Jansen of fysio (http://eidas.europa.eu/LoA/low)"  # acr: the level
