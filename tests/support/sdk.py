"""The SDK's zones in tests: the base URL of an in-process zone, and a zone that hangs."""

from __future__ import annotations

import asyncio

from tests.support.cluster import Zone


def url(zone: Zone) -> str:
    return str(zone.client.make_url("")).rstrip("/")


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
