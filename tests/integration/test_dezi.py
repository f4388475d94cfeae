"""Logging in with Dezi (docs/adr/0014) against a Dezi Tweestap did not write: panva's
``oidc-provider`` under Node.js issuing Dezi's claims (tests/peers, :mod:`tests.support.dezi`),
auth as its relying party, enrolment, and the web front door in between, all real (PostgreSQL,
the broker). The browser's part at Dezi is plain HTTP here (the test Dezi's login page); the
whole login in Chromium is tests/browser/test_dezi.py.

A linked employee gets a session at level high with Dezi's role codes; an identity linked to
nobody, acting for another care provider, with a bad signature or another login's nonce, or
an upstream that is down gets a clear Dutch page and no session."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
import pytest

from shared.assurance import LOA
from tests.support.browser import serve_web
from tests.support.cluster import ADMIN_PASSWORD, Cluster, wait_for
from tests.support.dezi import URA, DeziSite, TestDezi, number_of, start_dezi_site, test_dezi

P = "fysio"


@pytest.fixture(scope="module")
def dezi() -> Iterator[TestDezi]:
    with test_dezi() as found:
        yield found


@dataclass
class Stack(DeziSite):
    dezi: TestDezi
    web: str

    async def link(self, employee: str, account: str, ura: str = URA) -> None:
        """The administrator records the practice's URA and the employee's Dezi number; auth
        has both."""
        status, body = await self.enrolment("PUT", f"/v1/practices/{P}", {"ura": ura})
        assert status == 200, body
        number = number_of(account)
        path = f"/v1/practices/{P}/employees/{employee}"
        status, body = await self.enrolment("PUT", path, {"dezi_number": number})
        assert status == 200, body

        async def known() -> bool:
            return bool(
                await self.auth.auth.pool.fetchval(
                    "SELECT e.dezi_number = $1 AND p.ura = $2 FROM employees e"
                    " JOIN practices p ON p.id = e.practice WHERE e.id = $3",
                    number,
                    ura,
                    employee,
                )
            )

        await wait_for(known)


@pytest.fixture
async def stack(cluster: Cluster, dezi: TestDezi) -> AsyncIterator[Stack]:
    await dezi.mode("normal")
    site = await start_dezi_site(cluster, dezi, P)
    async for url in serve_web([site.zone], site.port, issuer=site.issuer):
        yield Stack(**vars(site), dezi=dezi, web=url)


class Person:
    """A browser over HTTP: its cookies, the web's pages, and Dezi's login page."""

    def __init__(self, stack: Stack, http: aiohttp.ClientSession) -> None:
        self.stack, self.http = stack, http

    async def at_dezi(self, start: str = "/login/dezi") -> str:
        """Follow the web's link to Dezi: where the web sends the browser."""
        async with self.http.get(f"{self.stack.web}{start}", allow_redirects=False) as answer:
            assert answer.status == 303, await answer.text()
            location = answer.headers["Location"]
        assert location.startswith(self.stack.dezi.issuer), location
        return location

    async def back(self, query: dict[str, str]) -> tuple[int, str, str | None]:
        """Come back from Dezi with ``query``: the status, the page, where it sends on."""
        url = f"{self.stack.web}/login/dezi/callback"
        async with self.http.get(url, params=query, allow_redirects=False) as answer:
            return answer.status, await answer.text(), answer.headers.get("Location")

    async def dezi_login(self, account: str) -> tuple[int, str, str | None]:
        location = await self.at_dezi()
        return await self.back(await self.stack.dezi.log_in(location, account))

    async def logged_in(self) -> bool:
        async with self.http.get(f"{self.stack.web}/factors", allow_redirects=False) as answer:
            return answer.status == 200


@pytest.fixture
async def person(stack: Stack) -> AsyncIterator[Person]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Person(stack, http)


def _claims(token: str) -> dict[str, Any]:
    found: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return found


async def test_a_linked_employee_logs_in_with_dezi_at_level_high(
    stack: Stack, person: Person
) -> None:
    await stack.link(stack.admin, "jansen")
    status, page, location = await person.dezi_login("jansen")
    assert status == 303 and location == "/factors", page
    assert await person.logged_in()

    # The same at auth's API: the session's token carries level high and Dezi's role codes.
    if True:
        started = await stack.auth.client.post("/v1/upstream/dezi/login", json={})
        body = await started.json()
        assert started.status == 201, body
        query = await stack.dezi.log_in(body["authorization_url"], "jansen")
        answer = {"ticket": body["ticket"], **query}
        done = await stack.auth.client.post("/v1/upstream/dezi/login/complete", json=answer)
        result = await done.json()
        assert done.status == 200, result
        claims = _claims(result["token"]["token"])
        assert claims["acr"] == LOA["high"] == "http://eidas.europa.eu/LoA/high"
        assert claims["sub"] == stack.admin and claims["practice"] == P
        assert claims["roles"] == ["01.015"] and claims["amr"] == ["mfa"]
        # The answer is used once: the same code and ticket again make no second session.
        again = await stack.auth.client.post("/v1/upstream/dezi/login/complete", json=answer)
        assert again.status == 400, await again.text()


async def test_an_unlinked_identity_gets_a_clear_page_and_no_session(
    stack: Stack, person: Person
) -> None:
    await stack.link(stack.admin, "jansen")
    status, page, _ = await person.dezi_login("devries")
    assert status == 403 and "niet gekoppeld aan een medewerker" in page, page
    assert not await person.logged_in()
    # The answer went with the request: coming back again finds nothing waiting.
    status, page, _ = await person.back({"code": "x", "state": "y"})
    assert status == 400 and "verlopen of niet in deze browser begonnen" in page


async def test_another_care_provider_is_refused(stack: Stack, person: Person) -> None:
    # bakker acts for URA 12345678; the practice is 87654321.
    await stack.link(stack.admin, "bakker")
    status, page, _ = await person.dezi_login("bakker")
    assert status == 403 and "andere zorgaanbieder (URA)" in page, page
    assert not await person.logged_in()


@pytest.mark.parametrize("mode", ["tamper", "foreign-jwks", "wrong-nonce"])
async def test_an_answer_that_does_not_verify_is_refused(
    stack: Stack, person: Person, mode: str
) -> None:
    """A claim changed after signing, a signature by a key Dezi does not publish, the ID
    token of another login's nonce: the same page, nobody logged in."""
    await stack.link(stack.admin, "jansen")
    await stack.dezi.mode(mode)
    try:
        status, page, _ = await person.dezi_login("jansen")
    finally:
        await stack.dezi.mode("normal")
    assert status == 401 and "kon niet worden gecontroleerd" in page, page
    assert not await person.logged_in()


async def test_an_upstream_that_is_down_gets_a_clear_page_and_nothing_changes(
    stack: Stack, person: Person
) -> None:
    await stack.link(stack.admin, "jansen")
    # Logged in with Dezi once: a session this browser holds.
    status, _, _ = await person.dezi_login("jansen")
    assert status == 303 and await person.logged_in()

    # Dezi's token endpoint down while the person comes back: the session held stays.
    location = await person.at_dezi()
    query = await stack.dezi.log_in(location, "jansen")
    await stack.dezi.mode("token-down")
    try:
        status, page, _ = await person.back(query)
    finally:
        await stack.dezi.mode("normal")
    assert status == 503 and "Dézi is nu niet bereikbaar" in page, page
    assert await person.logged_in(), "the session held before stays"

    # Dezi down altogether (a new deployment that never reached it): the start says so.
    await stack.dezi.mode("down")
    try:
        async with aiohttp.ClientSession() as http:
            fresh = Person(stack, http)
            url = f"{stack.web}/login/dezi"
            async with fresh.http.get(url, allow_redirects=False) as answer:
                page = await answer.text()
                # Metadata is kept a while: either the start fails, or Dezi's pages do.
                assert answer.status in (303, 503), page
    finally:
        await stack.dezi.mode("normal")


async def test_an_employee_links_dezi_in_a_two_factor_session(stack: Stack, person: Person) -> None:
    status, body = await stack.enrolment("PUT", f"/v1/practices/{P}", {"ura": URA})
    assert status == 200, body
    # A password-only session may not link (auth: two factors needed).
    started = await stack.auth.client.post(
        "/v1/upstream/dezi/link",
        json={},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
    )
    assert started.status == 403, await started.text()
    assert json.loads(await started.text())["type"].endswith("/forbidden")


async def _page(person: Person, path: str) -> tuple[int, str]:
    url = f"{person.stack.web}{path}" if path.startswith("/") else path
    async with person.http.get(url, allow_redirects=False) as answer:
        return answer.status, await answer.text()


async def test_the_login_page_offers_dezi_when_auth_has_it(stack: Stack, person: Person) -> None:
    status, page = await _page(person, "/login")
    assert status == 200 and 'id="login-dezi"' in page and "Inloggen met Dézi" in page
    await stack.link(stack.admin, "jansen")
    status, _, _ = await person.dezi_login("jansen")
    assert status == 303
    status, page = await _page(person, "/factors")
    assert status == 200 and 'id="link-dezi"' in page


async def test_a_deployment_without_dezi_shows_no_dezi_link(cluster: Cluster) -> None:
    """Auth without ``TWEESTAP_DEZI_ISSUER``: the web asks auth's ``GET /v1/upstream`` and
    offers neither the login nor the link; ``/login/dezi`` says there is none."""
    site = await start_dezi_site(cluster, None, P)
    listed = await site.auth.client.get("/v1/upstream")
    assert listed.status == 200 and await listed.json() == {"providers": []}
    async for url in serve_web([site.zone], site.port, issuer=site.issuer):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(f"{url}/login") as answer:
                page = await answer.text()
            assert answer.status == 200 and "login-dezi" not in page and "Dézi" not in page
            found = re.search(r'name="csrf" value="([^"]+)"', page)
            assert found is not None
            form = {
                "practice": P,
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "csrf": found.group(1),
            }
            async with http.post(f"{url}/login", data=form, allow_redirects=False) as answer:
                assert answer.status == 303, await answer.text()
            async with http.get(f"{url}/factors", allow_redirects=False) as answer:
                page = await answer.text()
            # A password-only session: the page says its factors need two, but it is the
            # factors page, without the link.
            assert 'id="new-recovery"' in page and "link-dezi" not in page, page
            async with http.get(f"{url}/login/dezi", allow_redirects=False) as answer:
                assert answer.status == 404, await answer.text()
