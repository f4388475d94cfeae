"""A service process stopped for a while (SIGSTOP: a frozen host, a paused VM) may have missed
what the bus carried meanwhile — the other zone's revocations, a new password. From its first
moment running again its zone is catching up: auth decides on no session and no password
(503 ``catching-up``, clients use the other zone) until it has read to the end. Found by the
chaos run: a zone stopped while a password changed in the other refused the new password as a
wrong guess, until the person was locked out."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp

from services.dev.deployment import Deployment
from tests.support.cluster import wait_for


async def _status(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        body = await response.json(content_type=None)
        return response.status, str(body.get("type") or body.get("status"))


async def test_a_stopped_auth_is_catching_up_from_its_first_moment_running_again(
    deployment: Deployment,
) -> None:
    stall = deployment.auth_settings("a").stall_seconds
    pid = deployment.pid("auth", "a")
    status_url = f"{deployment.url('auth', 'a')}/v1/status"
    async with aiohttp.ClientSession() as session:
        assert (await _status(session, status_url))[0] == 200
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(stall + 1.5)
            # Asked while still stopped: the request waits in the socket, so it is the first
            # thing the process reads when it runs again. (Asked after SIGCONT, on a busy
            # machine its consumer may have read to the end before the question arrived.)
            first = asyncio.create_task(_status(session, status_url))
            await asyncio.sleep(0.3)
        finally:
            os.kill(pid, signal.SIGCONT)
        resumed = time.monotonic()
        status, kind = await first
        assert (status, kind.rsplit("/", 1)[-1]) == (503, "catching-up"), "its first answer"

        async def serving() -> bool:
            return (await _status(session, status_url))[0] == 200

        await wait_for(serving, timeout=60, interval=0.2, what="caught up again")
        assert time.monotonic() - resumed < deployment.auth_settings("a").catch_up_max_seconds
    assert deployment.pid("auth", "a") == pid, "the same process, stopped and continued"
