"""The SDK waits out a ``Retry-After`` within the call's budget (client/README.md, "Busy
zones"), against the real auth service: a saturated hasher (one thread, one waiting place)
answers 503 ``hasher-busy``, and the per-address login budget 429 ``too-many-requests``; both
say the password was not evaluated, so the SDK may send it again once asked to."""

from __future__ import annotations

import asyncio
import socket
import time

from aiohttp import web
from aiohttp.test_utils import TestServer
from tweestap_client import (
    DEFAULT_PASSWORD_TIMEOUT,
    TweestapClient,
    TweestapError,
    ZonesUnavailable,
)

from tests.support.cluster import ADMIN_PASSWORD, Cluster
from tests.support.sdk import url

#: Logins of one person at once: more than max_attempts (5). Guesses in flight bound how many
#: are evaluated at once; a login that finds five still being checked is answered 503
#: ``not-evaluated`` (Retry-After: 1), not ``account-locked``, and the SDK comes back.
CLIENTS = 6


def refused_url() -> str:
    """A zone whose auth is gone: nothing listens on its port (connections refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _login(zones: list[str]) -> tuple[float, int, BaseException | None]:
    """One client's login: its seconds, its waits for Retry-After, its error if any."""
    async with TweestapClient(zones, probe_interval=3600) as client:
        started = time.monotonic()
        try:
            step = await client.login("fysio", "admin", ADMIN_PASSWORD)
            assert step.next == "done" and client.token is not None
            error = None
        except (ZonesUnavailable, TweestapError) as failed:
            error = failed
        return time.monotonic() - started, client.retries, error


async def test_logins_turned_away_by_a_saturated_hasher_succeed_after_waiting(
    cluster: Cluster,
) -> None:
    """Zone a is gone and zone b can hash one password at a time with one waiting: of five
    logins at once, most are answered ``hasher-busy`` at first. Before, each raised
    ZonesUnavailable; now each waits the Retry-After and gets through within its budget."""
    b = await cluster.start("b", hash_workers=1, hash_max_waiting=1, hash_busy_retry_seconds=1)
    await cluster.bootstrap(b)
    zones = [refused_url(), url(b)]
    results = await asyncio.gather(*(_login(zones) for _ in range(CLIENTS)))
    errors = [error for _, _, error in results if error is not None]
    assert not errors, f"{len(errors)} of {CLIENTS} logins failed: {errors[:2]}"
    # How many were turned away depends on how close together the logins arrived.
    assert sum(retries for _, retries, _ in results) >= 2, "the hasher was saturated"
    assert max(seconds for seconds, _, _ in results) < DEFAULT_PASSWORD_TIMEOUT, "in budget"


async def test_a_retry_after_beyond_the_budget_is_not_waited(cluster: Cluster) -> None:
    """``hasher-busy`` asking 30 s, with a 5 s budget: the SDK gives up at once, as before."""
    b = await cluster.start("b", hash_workers=1, hash_max_waiting=0, hash_busy_retry_seconds=30)
    await cluster.bootstrap(b)
    # max_attempts logins at once: a sixth might find five guesses in flight and be told to
    # come back in 1 s (not-evaluated), which fits the budget and is waited, rightly; this test
    # is about a wait that does not fit.
    results = await asyncio.gather(*(_login([url(b)]) for _ in range(5)))
    refused = [(seconds, retries) for seconds, retries, error in results if error is not None]
    assert refused, "one hashing thread, no waiting place: some logins were turned away"
    errors = [e for _, _, e in results if e is not None]
    assert all(isinstance(e, ZonesUnavailable) for e in errors), [repr(e) for e in errors]
    assert all(retries == 0 for _, retries in refused), "nothing waited"
    assert max(seconds for seconds, _ in refused) < 2.0, "given up at once, not after 30 s"


async def test_the_login_budget_429_is_waited_out_when_it_fits(cluster: Cluster) -> None:
    """One login per second per address: the second login in a row is answered 429
    ``too-many-requests`` (Retry-After: 1, the request not evaluated), waits and succeeds."""
    a = await cluster.start("a", login_rate_attempts=1, login_rate_window_seconds=1)
    await cluster.bootstrap(a)
    for _ in range(3):
        seconds, retries, error = await _login([url(a)])
        assert error is None, error
    assert retries >= 1 and 0.9 < seconds < 5.0, (retries, seconds)


async def test_each_attempt_says_how_long_the_sdk_will_wait_for_it() -> None:
    """``X-Request-Budget``: the whole limit at first, what is left of it after a wait."""
    budgets: list[float] = []

    async def login(request: web.Request) -> web.Response:
        budgets.append(float(request.headers["X-Request-Budget"]))
        if len(budgets) == 1:
            busy = {"type": "https://tweestap.nl/problems/hasher-busy", "status": 503}
            return web.json_response(busy, status=503, headers={"Retry-After": "1"})
        refused = {"type": "https://tweestap.nl/problems/invalid-credentials", "status": 401}
        return web.json_response(refused, status=401)

    app = web.Application()
    app.router.add_post("/v1/login", login)
    server = TestServer(app)
    await server.start_server()
    try:
        async with TweestapClient([str(server.make_url(""))], probe_interval=3600) as client:
            try:
                await client.login("fysio", "admin", "a-guess")
            except TweestapError as error:
                assert error.status == 401, "the verdict after the wait"
            else:
                raise AssertionError("the zone refused the password")
        assert budgets[0] == DEFAULT_PASSWORD_TIMEOUT and len(budgets) == 2
        assert budgets[1] <= DEFAULT_PASSWORD_TIMEOUT - 1.0, "at least the wait is spent"
        assert client.retries == 1
    finally:
        await server.close()


async def test_a_later_login_step_waits_out_a_retry_after_in_its_own_zone() -> None:
    """A login's later steps can go to its zone only (the login lives there): a ``hasher-busy``
    there (a password change at login hashes) is waited out and the step sent again."""
    seen: list[str] = []

    async def login(request: web.Request) -> web.Response:
        return web.json_response({"next": "change_password", "login_id": "L1"})

    async def password(request: web.Request) -> web.Response:
        seen.append(request.match_info["id"])
        if len(seen) == 1:
            busy = {"type": "https://tweestap.nl/problems/hasher-busy", "status": 503}
            return web.json_response(busy, status=503, headers={"Retry-After": "1"})
        weak = {"type": "https://tweestap.nl/problems/password-too-weak", "status": 422}
        return web.json_response(weak, status=422)

    app = web.Application()
    app.router.add_post("/v1/login", login)
    app.router.add_post("/v1/login/{id}/password", password)
    server = TestServer(app)
    await server.start_server()
    try:
        async with TweestapClient([str(server.make_url(""))], probe_interval=3600) as client:
            step = await client.login("fysio", "admin", "tijdelijk1")
            try:
                await step.change_password("kort")
            except TweestapError as error:
                assert error.status == 422, "the verdict after the wait"
            else:
                raise AssertionError("the zone refused the new password")
            assert seen == ["L1", "L1"] and client.retries == 1
    finally:
        await server.close()
