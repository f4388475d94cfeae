"""Logging in with Dezi in Chromium (docs/adr/0014), against a Dezi Tweestap did not write:
panva's ``oidc-provider`` under Node.js (tests/peers, :mod:`tests.support.dezi`), whose login
page lists its test accounts. Auth is its relying party; enrolment, the web front door, the
broker and PostgreSQL are real.

The administrator records the practice's URA and Jan's Dezi number in the console; Jan clicks
"Inloggen met Dézi" on the login page, chooses his account at the test Dezi and comes back
logged in, his token at level high. An administrator who logged in with a password and an app
code links Dezi to herself at ``/factors/dezi``: enrolment records her number."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from services.web import session as sessions
from shared import otp
from shared.assurance import LOA
from tests.support.browser import Browser, serve_web
from tests.support.cluster import ADMIN_PASSWORD, Cluster, wait_for
from tests.support.dezi import URA, DeziSite, TestDezi, number_of, start_dezi_site, test_dezi
from tests.support.factors import add_factor
from tests.support.story import JAN, PRACTICE, Authenticator

SESSION_KEY = os.urandom(32)


@pytest.fixture(scope="module")
def dezi() -> Iterator[TestDezi]:
    with test_dezi() as found:
        yield found


@dataclass
class Stack(DeziSite):
    browser: Browser
    dezi: TestDezi

    async def at_auth(self, query: str, *args: Any) -> None:
        """Until auth's replica of the directory answers ``query`` true."""

        async def true() -> bool:
            return bool(await self.auth.auth.pool.fetchval(query, *args))

        await wait_for(true, what=query)

    def session(self) -> dict[str, Any]:
        """The web's session as Chromium holds it, opened with the web's key."""
        cookie = self.browser.driver.get_cookie(sessions.COOKIE)
        assert cookie is not None, "no session cookie"
        opened = sessions.unseal(SESSION_KEY, cookie["value"], time.time(), 3600, 3600)
        assert opened is not None
        return opened


@pytest.fixture
async def stack(cluster: Cluster, dezi: TestDezi, driver: WebDriver) -> AsyncIterator[Stack]:
    await dezi.mode("normal")
    site = await start_dezi_site(cluster, dezi, PRACTICE)
    key = base64.b64encode(SESSION_KEY).decode()
    async for url in serve_web([site.zone], site.port, issuer=site.issuer, session_key=key):
        driver.delete_all_cookies()
        yield Stack(**vars(site), browser=Browser(driver, url), dezi=dezi)


async def test_an_employee_logs_in_with_dezi_in_the_browser(stack: Stack) -> None:
    b = stack.browser
    path = f"/v1/practices/{PRACTICE}"
    status, body = await stack.enrolment("PUT", f"{path}/employees/jan01", JAN)
    assert status == 200, body

    # The administrator records the practice's URA and Jan's Dezi number in the console.
    await b.open("/login")
    await b.fill(practice=PRACTICE, username="admin", password=ADMIN_PASSWORD)
    await b.submit()
    await b.wait_text("", "main")
    await b.open("/console/settings")
    await b.fill(ura=URA)
    await b.click("#save")
    await b.wait_text("Opgeslagen", "#saved")
    await b.open("/console/employees/jan01")
    await b.wait_text("Jan de Vries", "h1")
    number = number_of("jansen")
    await b.fill(dezi_number=number)
    await b.click("#save")
    await b.wait_text("Opgeslagen", "#saved")
    await stack.at_auth(
        "SELECT e.dezi_number = $1 AND p.ura = $2 FROM employees e"
        " JOIN practices p ON p.id = e.practice WHERE e.id = 'jan01'",
        number,
        URA,
    )
    await b.run(b.driver.delete_all_cookies)

    # Jan: "Inloggen met Dézi", his account at Dezi, back logged in.
    await b.open("/login")
    await b.click("#login-dezi")
    await b.wait_text(number_of("jansen"), "main")
    assert (await b.run(lambda: b.driver.current_url)).startswith(stack.dezi.issuer)
    await b.click("#account-jansen")
    await b.wait_text("Mijn inlogmethoden", "h1")
    assert (await b.run(lambda: b.driver.current_url)) == f"{b.url}/factors"
    token = stack.session()["token"]["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["acr"] == LOA["high"] == "http://eidas.europa.eu/LoA/high"
    assert claims["sub"] == "jan01" and claims["practice"] == PRACTICE
    assert claims["roles"] == ["01.015"]


async def test_an_employee_links_dezi_after_a_two_factor_login(stack: Stack) -> None:
    b = stack.browser
    # The administrator has an authenticator app, and her rights group needs two factors.
    secret = otp.new_secret()
    await add_factor([stack.auth], stack.admin, "totp", {"secret": secret})
    body = {"ura": URA, "assurance": {"1": "substantial"}}
    status, answer = await stack.enrolment("PUT", f"/v1/practices/{PRACTICE}", body)
    assert status == 200, answer
    await stack.at_auth(
        "SELECT ura = $2 AND assurance ->> '1' = 'substantial' FROM practices WHERE id = $1",
        PRACTICE,
        URA,
    )

    await b.open("/login")
    await b.fill(practice=PRACTICE, username="admin", password=ADMIN_PASSWORD)
    await b.submit()
    await b.click("#factor-totp")
    await b.fill(code=Authenticator(secret).code())
    await b.submit()
    await b.wait_text("", "main")

    await b.open("/factors")
    await b.click("#link-dezi")
    await b.wait_text("Dézi koppelen", "h1")
    await b.click("#dezi-start")
    await b.wait_text(number_of("devries"), "main")
    assert (await b.run(lambda: b.driver.current_url)).startswith(stack.dezi.issuer)
    await b.click("#account-devries")
    number = number_of("devries")
    done = await b.wait_text("gekoppeld", "#dezi-done")
    assert number in done

    # Enrolment's employee view has the number (asked with her two-factor session).
    stack.admin_token = stack.session()["token"]["token"]
    status, found = await stack.enrolment("GET", f"/v1/practices/{PRACTICE}/employees")
    assert status == 200, found
    mine = [e for e in found if e["employee"] == stack.admin]
    assert mine and mine[0]["dezi_number"] == number
