"""The notifier in-process for its integration tests: real PostgreSQL and broker, a producer
that writes its requests as a Tweestap writer would, and what it recorded (its messages table,
its metrics, the events it wrote); and a local HTTP server for what it sends to."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer

from services.dev.infra import Broker, Postgres, free_port
from services.notifier.http import create_app
from services.notifier.metrics import NotifierMetrics
from services.notifier.settings import NotifierSettings
from shared.db import ensure_database
from shared.http import METRICS, RUNTIME
from tests.support.bus import genuine, read_events
from tests.support.cluster import SEALING, wait_for


def notifier_settings(
    postgres: Postgres, broker: Broker, letter: str, **more: Any
) -> NotifierSettings:
    """Zone a's notifier on topics and a database of its own (named ``<letter><random>``),
    sweeping and retrying fast; ``more`` over that."""
    prefix = f"{letter}{uuid.uuid4().hex[:10]}."
    fast: dict[str, Any] = {
        "zone": "a",
        "database_url": postgres.socket_dsn(prefix.rstrip(".") + "_notifier"),
        "kafka_bootstrap": broker.bootstrap,
        "topic_prefix": prefix,
        "sealing_keys": SEALING,
        "outbox_sweep_seconds": 0.2,
        "topics": {"partitions": 2},
        "retry_base_seconds": 0.05,
        "max_attempts": 4,
        "rate_limit_count": 3,
        "dispatch_sweep_seconds": 0.1,
    }
    return NotifierSettings(**{**fast, **more})


@dataclass
class NotifierRig:
    """The notifier (:meth:`start`, :meth:`stop`: again as after a restart) and a producer."""

    settings: NotifierSettings
    broker: Broker
    producer: AIOKafkaProducer
    client: TestClient[Any, Any] | None = field(default=None, init=False)
    #: How often :meth:`wait_status` looks.
    poll_seconds: ClassVar[float] = 0.1

    async def start(self) -> None:
        self.client = TestClient(TestServer(create_app(self.settings)))
        await self.client.start_server()

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    @property
    def pool(self) -> Any:
        assert self.client is not None
        return self.client.server.app[RUNTIME].pool  # type: ignore[attr-defined]

    @property
    def metrics(self) -> NotifierMetrics:
        assert self.client is not None
        metrics = self.client.server.app[METRICS]  # type: ignore[attr-defined]
        assert isinstance(metrics, NotifierMetrics)
        return metrics

    async def send(self, topic: str, payload: bytes, key: bytes = b"fysio:x") -> None:
        """``payload`` on the notifier's ``topic``, with the headers a Tweestap writer gives
        (``key``: by default one of practice fysio's)."""
        full = self.settings.topic(topic)
        await self.producer.send_and_wait(
            full, payload, key=key, headers=genuine(full, key, payload)
        )

    async def status(self, rid: uuid.UUID) -> tuple[str, int]:
        row = await self.pool.fetchrow(
            "SELECT status, attempts FROM messages WHERE request_id = $1", rid
        )
        return (row["status"], row["attempts"]) if row else ("absent", 0)

    async def wait_status(self, rid: uuid.UUID, status: str, timeout: float = 20) -> int:
        """Until request ``rid`` has ``status``: its attempts."""

        async def reached() -> int:
            current, attempts = await self.status(rid)
            return attempts if current == status else 0

        return await wait_for(reached, timeout=timeout, interval=self.poll_seconds)

    async def events(self, topic: str, count: int) -> list[dict[str, Any]]:
        return await read_events(
            self.broker, self.settings.topic(topic), lambda ev: len(ev) >= count
        )


@asynccontextmanager
async def producer_for(settings: NotifierSettings) -> AsyncIterator[AIOKafkaProducer]:
    """The notifier's database made, and a producer on its broker, until the block ends."""
    await ensure_database(settings.database_url)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@asynccontextmanager
async def running(rig: NotifierRig) -> AsyncIterator[None]:
    """``rig``'s notifier started, and stopped when the block ends."""
    await rig.start()
    try:
        yield
    finally:
        await rig.stop()


@asynccontextmanager
async def serving(app: web.Application, **runner: Any) -> AsyncIterator[int]:
    """``app`` on a free local port (its number), until the block ends."""
    site_runner = web.AppRunner(app, **runner)
    await site_runner.setup()
    port = free_port()
    await web.TCPSite(site_runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await site_runner.cleanup()
