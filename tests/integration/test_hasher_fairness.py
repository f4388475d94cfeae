"""Auth sheds load fairly (services/auth/domain/admission.py), through its real HTTP app (real
PostgreSQL and broker): one client address flooding the login endpoint cannot keep another
address's logins out of the hashing queue; the flood's newest waiting logins give way (503
``hasher-busy``, not evaluated) and the other address's are served in turn."""

from __future__ import annotations

import asyncio
import itertools

from tests.support.cluster import ADMIN_PASSWORD, Cluster, login_from, wait_for

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
