"""Fixtures of the SDK tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.cluster import Cluster, Zone, wait_for


class HungZone:
    """A TCP server that accepts every connection, reads the request and never answers, like
    a SIGSTOPped process behind a listening socket; it records what it saw."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.closed_by_client = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.readline())
        while await reader.read(4096):  # until the client gives up on it
            pass
        self.closed_by_client += 1
        writer.close()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


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
