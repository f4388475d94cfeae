"""The SDK's zones in tests: the base URL of an in-process zone, a zone that hangs, and a
stand-in for auth whose login and status answers a test chooses."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.cluster import Zone


def url(zone: Zone) -> str:
    return str(zone.client.make_url("")).rstrip("/")


def web_zone(auth: Zone, enrolment: Zone) -> dict[str, str]:
    """A zone as the web front end (and the SDK's ``request``) is given it: service → URL."""
    return {"auth": url(auth), "enrolment": url(enrolment)}


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


class StandInAuth:
    """Auth over real HTTP answering ``POST /v1/login`` and ``GET /v1/status`` with a
    subclass's ``login`` and ``status``, to drive the SDK through answers a real zone gives
    only under load or failure."""

    server: TestServer | None = None

    async def login(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    async def status(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/login", self.login)
        app.router.add_get("/v1/status", self.status)
        self.server = TestServer(app)
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
