"""A login interrupted by a zone loss (client/README.md, "A login interrupted by a zone loss").

A login in progress lives in the database of the zone that started it (not replicated), and
the SDK does not keep the password after ``login`` returns. So when the zone goes away between
the password and the next step, the SDK refuses to continue with LoginInterrupted, and the
caller logs in again: that login goes straight to the zone that answers and completes there."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tweestap_client import LoginInterrupted, TweestapClient, TweestapError

from tests.support.cluster import ADMIN_PASSWORD, Cluster, wait_for
from tests.support.factors import (
    PHONE,
    PRACTICE,
    add_factor,
    oathtool,
    sent_codes,
    steady,
    two_factor_setup,
)
from tests.support.practices import STRONG, admin_token, put_password
from tests.support.sdk import StandInAuth, url

TEMPORARY = "tijdelijk1"


async def test_second_factor_after_zone_a_is_lost_completes_in_b_after_a_new_login(
    cluster: Cluster,
) -> None:
    s = await two_factor_setup(cluster, zones=("a", "b"))
    a, b = s.zones
    switched: list[tuple[int, int]] = []
    async with TweestapClient(
        [url(a), url(b)], on_zone_switched=lambda *z: switched.append(z)
    ) as client:
        step = await client.login(PRACTICE, "admin", ADMIN_PASSWORD)
        assert step.next == "second_factor" and "totp" in step.factors and step.zone == 0
        assert ADMIN_PASSWORD not in repr(vars(step)), "the step holds no password"
        await a.client.close()  # zone a is gone between the password and the code

        await steady()
        code = await oathtool(s.secret)
        with pytest.raises(LoginInterrupted, match="log in again") as interrupted:
            await step.verify("totp", code=code)
        assert interrupted.value.zone == 0 and interrupted.value.action == "verify"
        assert interrupted.value.may_have_applied is False, "the connection was refused"
        assert client.token is None

        again = await client.login(PRACTICE, "admin", ADMIN_PASSWORD)
        assert again.next == "second_factor" and again.zone == 1
        assert switched == [(0, 1)], "the new login went to zone b"
        done = await again.verify("totp", code=code)  # zone a never used this code
        assert done.next == "done" and client.token is not None and client.zone == 1
        assert b.auth.signer.kid_of(client.token).startswith("b-")


async def test_a_password_change_after_zone_a_is_lost_is_done_again_in_b(
    cluster: Cluster,
) -> None:
    a = await cluster.start("a")
    b = await cluster.start("b")
    employee = await cluster.bootstrap(a)
    status, _ = await put_password(a, await admin_token(a), PRACTICE, employee, TEMPORARY, True)
    assert status == 200

    async def temporary_in_b() -> bool:
        return bool(
            await b.auth.pool.fetchval(
                "SELECT must_change FROM credentials WHERE practice = $1 AND employee = $2",
                PRACTICE,
                employee,
            )
        )

    await wait_for(temporary_in_b)
    async with TweestapClient([url(a), url(b)]) as client:
        step = await client.login(PRACTICE, "admin", TEMPORARY)
        assert step.next == "change_password" and step.zone == 0
        await a.client.close()
        with pytest.raises(LoginInterrupted) as interrupted:
            await step.change_password(STRONG)
        assert interrupted.value.action == "password"
        assert interrupted.value.may_have_applied is False
        assert "may have been set" not in str(interrupted.value)

        again = await client.login(PRACTICE, "admin", TEMPORARY)
        assert again.next == "change_password" and again.zone == 1, "nothing changed in a"
        done = await again.change_password(STRONG)
        assert done.next == "done" and client.token is not None and client.zone == 1
    async with TweestapClient([url(b)]) as fresh:
        assert (await fresh.login(PRACTICE, "admin", STRONG)).next == "done"


async def test_a_password_change_that_may_have_reached_the_zone_says_so() -> None:
    """A zone that took the login and then fails the password step with a 5xx: the change may
    have happened before the failure, and the error says which password to try."""

    async def first_step(request: web.Request) -> web.Response:
        return web.json_response({"next": "change_password", "login_id": "L1", "token": None})

    async def failing(request: web.Request) -> web.Response:
        return web.json_response({"title": "unavailable"}, status=503)

    app = web.Application()
    app.router.add_post("/v1/login", first_step)
    app.router.add_post("/v1/login/L1/password", failing)
    server = TestServer(app)
    await server.start_server()
    answered: list[Any] = []
    try:
        async with TweestapClient([str(server.make_url("")).rstrip("/")]) as client:
            step = await client.login(PRACTICE, "admin", TEMPORARY)
            assert step.next == "change_password"
            with pytest.raises(LoginInterrupted, match="may have been set") as interrupted:
                await step.change_password(STRONG)
            answered.append(interrupted.value)
    finally:
        await server.close()
    assert answered[0].may_have_applied is True


async def test_an_sms_challenge_continues_the_same_login(cluster: Cluster, tmp_path: Path) -> None:
    """Not an interruption: the challenge's Step is the same login, and verifying on it hands
    the client the token (and writes the file)."""
    s = await two_factor_setup(cluster)
    await add_factor(s.zones, s.employee, "sms", {"to": PHONE})
    path = tmp_path / "token.json"
    async with TweestapClient([url(s.zone)], token_path=path) as client:
        step = await client.login(PRACTICE, "admin", ADMIN_PASSWORD)
        assert step.next == "second_factor" and step.factors == ["totp", "sms"]
        sent = await step.challenge("sms")
        assert sent.next == "second_factor" and sent.login_id == step.login_id
        assert sent.body["sent_to"] == "+31*******78"
        (code,) = await sent_codes(cluster, s.zone, "sms", 1)
        done = await sent.verify("sms", code=code)
        assert done.next == "done" and client.token == done.body["token"]["token"]
        assert json.loads(path.read_text())["token"] == client.token


class CountingZone(StandInAuth):
    """A zone's auth over real HTTP that answers every login with ``status`` (and ``problem``
    type, if any), or never within the client's time limit; it counts the logins it saw."""

    def __init__(self, status: int | None, problem: str | None = None) -> None:
        self.answer, self.problem = status, problem
        self.logins = 0

    async def login(self, request: web.Request) -> web.Response:
        self.logins += 1
        if self.answer is None:
            await asyncio.sleep(5)  # past the client's time limit
        body: dict[str, Any] = {"title": "down"}
        if self.problem:
            body = {"type": f"https://tweestap.nl/problems/{self.problem}", "status": self.answer}
        return web.json_response(body, status=self.answer or 200)

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "serving"})


@pytest.mark.parametrize(
    "status",
    [500, 502, 503, None],
    ids=["500", "502", "503 without a problem type", "no answer in time"],
)
async def test_a_password_that_may_have_reached_a_zone_is_never_sent_to_another(
    status: int | None,
) -> None:
    """Hardening II finding 10: a login whose request may have been received (a 5xx that does
    not say nothing was evaluated, a timeout) is not repeated in the next zone, where it would
    count as a second guess; the caller is told to log in again."""
    first, second = CountingZone(status), CountingZone(200)
    try:
        async with TweestapClient(
            [await first.start(), await second.start()],
            timeout=aiohttp.ClientTimeout(total=1.0),
            hedge_after=None,
            probe_interval=3600,
        ) as client:
            with pytest.raises(LoginInterrupted) as interrupted:
                await client.login(PRACTICE, "admin", "a-guess")
        assert interrupted.value.may_have_applied and interrupted.value.action == "login"
        assert "log in again" in str(interrupted.value)
        assert (first.logins, second.logins) == (1, 0), "the password went to a second zone"
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("problem", ["hasher-busy", "catching-up"])
async def test_a_zone_that_says_it_evaluated_nothing_passes_the_login_on(problem: str) -> None:
    """A zone that answers that it did not look at the password (too busy to hash it, or still
    catching up with the bus) counted nothing: the login goes to the next zone."""
    first, second = CountingZone(503, problem), CountingZone(401, "invalid-credentials")
    try:
        async with TweestapClient(
            [await first.start(), await second.start()], probe_interval=3600
        ) as client:
            with pytest.raises(TweestapError) as refused:
                await client.login(PRACTICE, "admin", "a-guess")
        assert refused.value.slug == "invalid-credentials", "the second zone's verdict"
        assert (first.logins, second.logins) == (1, 1)
    finally:
        await first.close()
        await second.close()
