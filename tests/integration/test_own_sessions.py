"""The employee's own live sessions, where and since when (issue 25), on real PostgreSQL and the
broker: two logins in two zones listed in each zone, a logged-out one gone, "log out
everywhere" empties the list; through the web the factors page lists them."""

from __future__ import annotations

import re
from typing import Any

from tests.integration.test_oidc_provider import code_for, exchange, pkce, register, sso_token
from tests.integration.test_own_factors import jan_on_the_web, text, token_of
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.site import Sites
from tests.support.tokens import bearer, change_own_password

NEW_PASSWORD = "Een-Nieuw-Sterk-Wachtwoord-2026"


async def listed(zone: Zone, token: str) -> list[dict[str, Any]]:
    response = await zone.client.get("/v1/sessions", headers=bearer(token))
    body = await response.json()
    assert response.status == 200, body
    return list(body["sessions"])


async def test_an_employees_live_sessions_are_listed_in_both_zones(cluster: Cluster) -> None:
    a, b = await cluster.start("a"), await cluster.start("b")
    await cluster.bootstrap(a)
    here, elsewhere = await token_of(a), await token_of(b)
    response = await a.client.get("/v1/sessions")
    assert response.status == 401, "a token is needed"

    async def both_listed() -> bool:
        in_a, in_b = await listed(a, here), await listed(b, elsewhere)
        return len(in_a) == 2 and len(in_b) == 2

    await wait_for(both_listed, what="both zones' logins listed in each zone")
    in_a = await listed(a, here)
    assert sorted(s["zone"] for s in in_a) == ["a", "b"], in_a
    [mine] = [s for s in in_a if s["current"]]
    assert mine["zone"] == "a" and mine["client_id"] is None and mine["address"], mine
    assert all(s["expires_at"] > s["started_at"] for s in in_a), in_a
    assert [s["zone"] for s in await listed(b, elsewhere) if s["current"]] == ["b"]

    # Logged out in zone b: gone in both zones.
    response = await b.client.post("/v1/tokens/revoke", headers=bearer(elsewhere))
    assert response.status == 204, await response.text()

    async def only_here() -> bool:
        return [s["zone"] for s in await listed(a, here)] == ["a"]

    await wait_for(only_here, what="the logged-out session gone in zone a")

    # Log out everywhere: a new login is the only one.
    response = await a.client.post("/v1/sessions/end", headers=bearer(here))
    assert response.status == 200, await response.text()
    fresh = await token_of(a)

    async def only_fresh() -> bool:
        sessions = await listed(a, fresh)
        return len(sessions) == 1 and sessions[0]["current"]

    await wait_for(only_fresh, what="only the new login listed")
    response = await a.client.get("/v1/sessions", headers=bearer(here))
    assert response.status == 401, "an ended session lists nothing"


async def test_the_factors_page_lists_where_one_is_logged_in(sites: Sites) -> None:
    site = await sites(two_factors=True)
    web, _, other = await jan_on_the_web(site)
    page = await text(await web.get("/factors"))
    assert "Waar u bent ingelogd" in page, page
    assert page.index('id="live-sessions"') < page.index('id="log-out-everywhere"')
    rows = re.findall(r'<li class="live-session"([^>]*)>([^<]*)', page)
    assert len(rows) == 2, rows  # the wizard's login and the web's
    [this] = [text_ for attributes, text_ in rows if "aria-current" in attributes]
    assert re.match(r"Sinds \d\d-\d\d-\d{4} \d\d:\d\d vanaf \S+", this), this
    assert "deze sessie" in page

    response = await site.auth.client.post("/v1/tokens/revoke", headers=bearer(other))
    assert response.status == 204, await response.text()
    page = await text(await web.get("/factors"))
    assert len(re.findall(r'<li class="live-session"', page)) == 1, "the logged-out one is gone"


async def test_an_applications_session_is_listed_with_its_login(cluster: Cluster) -> None:
    a, b = await cluster.start("a"), await cluster.start("b")
    await cluster.bootstrap(a)
    secret = await register(a, "app")
    assert secret is not None
    sso = await sso_token(a)
    verifier, challenge = pkce()
    issued = await code_for(a, sso, "app", challenge)
    status, granted, _ = await exchange(a, issued["code"], verifier, secret)
    assert status == 200, granted
    other = await token_of(b)

    async def app_listed_in_b() -> bool:
        return [s["client_id"] for s in await listed(b, other)] == [None, None, "app"]

    await wait_for(app_listed_in_b, what="the application's session listed in zone b")
    login, app = [s for s in await listed(a, sso) if s["zone"] == "a"]
    assert login["current"] and not app["current"], (login, app)
    assert (app["client_id"], app["address"], app["started_at"]) == (
        "app",
        login["address"],
        login["started_at"],
    )

    # Its login logged out: the application's session is over too.
    response = await a.client.post("/v1/tokens/revoke", headers=bearer(sso))
    assert response.status == 204, await response.text()

    async def only_b() -> bool:
        return [(s["zone"], s["client_id"]) for s in await listed(b, other)] == [("b", None)]

    await wait_for(only_b, what="the login and its application gone in zone b")


async def test_the_session_a_password_change_goes_on_in_is_listed_in_both_zones(
    cluster: Cluster,
) -> None:
    """A password change ends every session and goes on in a new one: that one is listed,
    current, where and since when the change was made, in both zones."""
    a, b = await cluster.start("a"), await cluster.start("b")
    await cluster.bootstrap(a)
    before = await token_of(a)
    status, changed = await change_own_password(a, before, ADMIN_PASSWORD, NEW_PASSWORD)
    assert status == 200, changed
    after = changed["token"]["token"]
    [mine] = await listed(a, after)
    assert mine["current"] and mine["zone"] == "a" and mine["address"], mine

    async def listed_in_b() -> bool:
        return await listed(b, after) == [mine]

    # The same token in zone b (both zones accept it) lists it there too, and only it once
    # the cutoff has arrived.
    await wait_for(listed_in_b, what="the password change's session listed in zone b")
