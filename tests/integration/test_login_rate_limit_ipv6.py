"""Hardening II finding 14: auth's login budget is per IPv6 /64
(``TWEESTAP_RATE_LIMIT_IPV6_PREFIX``), not per address, through auth's real HTTP app (real
PostgreSQL and broker); the addresses come from a trusted proxy's ``X-Forwarded-For``."""

from __future__ import annotations

from tests.support.cluster import Cluster, login_from
from tests.support.practices import FAST


async def test_addresses_of_one_ipv6_64_share_the_login_budget(cluster: Cluster) -> None:
    zone = await cluster.start(
        "a",
        login_rate_attempts=2,
        login_rate_window_seconds=60,
        trusted_proxies=["127.0.0.0/8", "::1/128"],
        **FAST,
    )
    await cluster.bootstrap(zone)
    one_network = ["2001:db8:5:6::1", "2001:db8:5:6:ffff::2", "2001:db8:5:6::3"]
    statuses = [
        (await login_from(zone, "fysio", f"ghost{i}", "wrong", forwarded=address))[0]
        for i, address in enumerate(one_network)
    ]
    assert statuses == [401, 401, 429], f"three addresses of one /64: {statuses}"
    # The next /64 and an IPv4 client have budgets of their own.
    other, _, _ = await login_from(zone, "fysio", "ghost8", "wrong", forwarded="2001:db8:5:7::1")
    ipv4, _, _ = await login_from(zone, "fysio", "ghost9", "wrong", forwarded="192.0.2.1")
    assert (other, ipv4) == (401, 401)
