"""``/readyz`` says no until the service has started, its own contexts included (a fault test
saw auth answer "ready" at its start, before its consumer had recalled that it had consumed
before, then "catching up": readiness said yes, then no). Real PostgreSQL and broker, the
service app served by aiohttp's own runner."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from services.dev.infra import Broker, Postgres, free_port
from shared.db import Migrations, ensure_database
from shared.http import create_service_app
from shared.settings import Settings
from tests.support.cluster import SEALING, wait_for


async def _readyz(url: str) -> int | None:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return None


async def test_not_ready_until_the_services_own_start_is_done(
    postgres: Postgres, broker: Broker, tmp_path: Path
) -> None:
    dsn = postgres.dsn(f"start_{secrets.token_hex(4)}")
    await ensure_database(dsn)
    settings = Settings(
        service="starting",
        zone="a",
        database_url=dsn,
        kafka_bootstrap=broker.bootstrap,
        topic_prefix=f"start-{secrets.token_hex(4)}.",
        sealing_keys=SEALING,
        ops_port=free_port(),
    )
    app = create_service_app(settings, [], Migrations(tmp_path))
    own_start = asyncio.Event()
    release = asyncio.Event()

    async def slow_start(app: web.Application) -> AsyncIterator[None]:
        """A service's own context, as auth's: keys, its consumer's recall, its tasks."""
        own_start.set()
        await release.wait()
        yield

    app.cleanup_ctx.append(slow_start)
    runner = web.AppRunner(app)
    setup = asyncio.create_task(runner.setup())
    url = f"http://127.0.0.1:{settings.ops_port}/readyz"
    try:
        await asyncio.wait_for(own_start.wait(), 60)
        # The runtime is up (pool, broker, relay): before, readiness said 200 from here on.
        assert await _readyz(url) == 503
        await asyncio.sleep(0.3)
        assert await _readyz(url) == 503, "still starting"
        release.set()
        await asyncio.wait_for(setup, 30)

        async def ready() -> bool:
            return await _readyz(url) == 200

        await wait_for(ready, timeout=30, what="ready once started")
    finally:
        release.set()
        await asyncio.gather(setup, return_exceptions=True)
        await runner.cleanup()
