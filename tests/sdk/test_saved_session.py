"""A front end that keeps the token itself (the web's sealed cookie), not in a token file:
``saved`` gives the record, ``restore`` takes it back in another client, which renews it and
calls with it; ``request(token=...)`` sends another bearer (the wizard's enrolment token)."""

from __future__ import annotations

import aiohttp
from tweestap_client import TweestapClient

from tests.support.cluster import ADMIN_PASSWORD, Cluster


async def test_a_saved_token_restored_in_a_new_client_renews_and_logs_out(
    cluster: Cluster,
) -> None:
    a = await cluster.start("a")
    await cluster.bootstrap(a)
    zone = str(a.client.make_url("")).rstrip("/")
    async with TweestapClient([zone]) as first:
        assert first.saved is None
        step = await first.login("fysio", "admin", ADMIN_PASSWORD)
        assert step.next == "done"
        saved = first.saved
    assert saved is not None and saved["token"]
    # The next two clients share the caller's HTTP session (one client per request, as the web
    # front end makes them): they use it and leave it open.
    http = aiohttp.ClientSession()
    async with TweestapClient([zone], http=http) as second:
        second.restore(saved)
        assert second.token == saved["token"]
        renewed = await second.renew()
        assert renewed != saved["token"] and second.saved is not None
        assert second.saved["token"] == renewed
        # An explicit bearer wins over the held one: a garbage one is refused.
        answer = await second.request("auth", "POST", "/v1/tokens/renew", token="not-a-token")
        assert answer.status == 401
        await second.logout()
        assert second.saved is None
    assert not http.closed
    async with TweestapClient([zone], http=http) as third:
        third.restore({**saved, "token": renewed})
        answer = await third.request("auth", "POST", "/v1/tokens/renew")
        assert answer.status == 401  # revoked by the logout
    assert not http.closed
    await http.close()
