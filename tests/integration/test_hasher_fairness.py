"""Auth sheds load fairly (services/auth/domain/admission.py), through its real HTTP app (real
PostgreSQL and broker): one client address flooding the login endpoint cannot keep another
address's logins out of the hashing queue; the flood's newest waiting logins give way (503
``hasher-busy``, not evaluated) and the other address's are served in turn. And its hashing
threads run below the event loop (``TWEESTAP_HASH_NICENESS``)."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
import uuid

from tests.support.cluster import ADMIN_PASSWORD, Cluster, login, login_from, wait_for

FLOODER, OTHER = "192.0.2.1", "198.51.100.7"
FLOOD_IN_FLIGHT = 12


async def test_one_address_flooding_does_not_keep_another_out(cluster: Cluster) -> None:
    zone = await cluster.start(
        "a",
        hash_workers=1,
        hash_max_waiting=4,
        trusted_proxies=["127.0.0.0/8", "::1/128"],
        login_rate_attempts=100_000,
        login_rate_window_seconds=1,
    )
    await cluster.bootstrap(zone)
    names = itertools.count()
    flood: list[int] = []
    stop = asyncio.Event()

    async def flooder() -> None:
        while not stop.is_set():
            status, _, _ = await login_from(
                zone, "fysio", f"ghost{next(names)}", "wrong", forwarded=FLOODER
            )
            flood.append(status)

    async def queue_full_of_flood() -> bool:
        return zone.auth.hasher.waiting == 4 and 503 in flood

    tasks = [asyncio.create_task(flooder()) for _ in range(FLOOD_IN_FLIGHT)]
    try:
        await wait_for(queue_full_of_flood, what="the flood fills the queue")
        others = [
            (await login_from(zone, "fysio", "admin", ADMIN_PASSWORD, forwarded=OTHER))[0]
            for _ in range(5)
        ]
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert others == [200] * 5, f"the other address's logins during the flood: {others}"
    assert set(flood) <= {401, 503} and flood.count(503) > 5, "the flood was turned away"


async def test_a_login_that_cannot_wait_behind_a_busy_queue_is_refused_at_once(
    cluster: Cluster,
) -> None:
    """A caller that will wait 0.6 s for its answer (``X-Request-Budget``) has no time to wait
    for a thread behind others: refused at once (503 ``hasher-busy``, not evaluated), not
    answered after it gave up."""
    zone = await cluster.start("a", hash_workers=1, hash_max_waiting=8)
    await cluster.bootstrap(zone)
    stop = asyncio.Event()

    async def busy() -> None:
        while not stop.is_set():
            await login_from(zone, "fysio", f"ghost{uuid.uuid4().hex[:8]}", "wrong")

    async def queue_in_use() -> bool:
        return zone.auth.hasher.waiting >= 2

    tasks = [asyncio.create_task(busy()) for _ in range(6)]
    try:
        await wait_for(queue_in_use, what="logins waiting for the hashing thread")
        started = time.monotonic()
        response = await zone.client.post(
            "/v1/login",
            json={"practice": "fysio", "username": "admin", "password": ADMIN_PASSWORD},
            headers={"X-Request-Budget": "0.6"},
        )
        seconds = time.monotonic() - started
        body = await response.json()
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert response.status == 503 and body["type"].endswith("/hasher-busy"), body
    assert response.headers["Retry-After"] == "1" and seconds < 0.6, seconds


def _niceness(thread_id: int | None) -> int:
    assert thread_id is not None
    return os.getpriority(os.PRIO_PROCESS, thread_id)


async def test_hashing_threads_run_below_the_event_loop(cluster: Cluster) -> None:
    """The setting reaches the running service: after logins, every hashing thread of auth's
    hasher runs ``hash_niceness`` below the event loop that serves the requests."""
    zone = await cluster.start("a", hash_workers=2, hash_niceness=6)
    await cluster.bootstrap(zone)
    answers = await asyncio.gather(
        *(login(zone, "fysio", "Admin", ADMIN_PASSWORD) for _ in range(4))
    )
    assert [status for status, _ in answers] == [200] * 4, answers
    loop = _niceness(threading.get_native_id())
    hashing = [_niceness(t.native_id) for t in zone.auth.hasher._pool._threads]
    assert hashing and set(hashing) == {min(19, loop + 6)}, (loop, hashing)
