"""Fixtures of the SDK tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.cluster import Cluster, Zone, wait_for
from tests.support.sdk import HungZone


@pytest.fixture
async def hung() -> AsyncIterator[HungZone]:
    zone = HungZone()
    yield zone
    await zone.stop()


@pytest.fixture
async def two_zones(cluster: Cluster) -> tuple[Zone, Zone]:
    """Zones a and b with the demo practice bootstrapped in a, once b trusts a's signing key
    (so a token from a is accepted by b after a failover)."""
    a = await cluster.start("a")
    b = await cluster.start("b")
    await cluster.bootstrap(a)

    async def b_knows_a_key() -> bool:
        jwks = await (await b.client.get("/.well-known/jwks.json")).json()
        return any(k["kid"].startswith("a-") for k in jwks["keys"])

    await wait_for(b_knows_a_key)
    return a, b
