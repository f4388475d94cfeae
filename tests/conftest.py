"""Real components for the suite: one embedded PostgreSQL and one Tansu broker per session;
a fresh database and a unique topic prefix per test, so tests are independent."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer

from services.auth.handlers import Auth, bootstrap
from services.auth.http import AUTH, CONSUMER, create_app
from services.auth.settings import AuthSettings
from services.dev.infra import Broker, Postgres, free_port
from shared.db import ensure_database
from shared.sealing import generate_key

T = TypeVar("T")
SEALING = f"t1:{generate_key()}"
ADMIN_PASSWORD = "Zeer-Sterk-Wachtwoord-2026!"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    pg = Postgres(tmp_path_factory.mktemp("pg") / "data")
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(free_port(), tmp_path_factory.mktemp("broker") / "broker.log")
    b.start()
    yield b
    b.stop()


async def wait_for(
    check: Callable[[], Awaitable[T]], timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@dataclass
class Zone:
    settings: AuthSettings
    client: TestClient[Any, Any]
    app: web.Application

    @property
    def auth(self) -> Auth:
        return self.app[AUTH]

    async def stop(self) -> None:
        await self.client.close()


@dataclass
class Cluster:
    """Both zones of auth for one test: own databases, shared broker, unique topics."""

    postgres: Postgres
    broker: Broker
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    zones: list[Zone] = field(default_factory=list)

    def settings(self, zone: str = "a", **overrides: Any) -> AuthSettings:
        db = f"{self.prefix.rstrip('.')}_{zone}"
        values: dict[str, Any] = {
            "zone": zone,
            "database_url": self.postgres.socket_dsn(db),
            "kafka_bootstrap": self.broker.bootstrap,
            "topic_prefix": self.prefix,
            "sealing_keys": SEALING,
            "outbox_sweep_seconds": 0.2,
            "topics": {"partitions": 2},
            **overrides,
        }
        return AuthSettings(**values)

    async def start(self, zone: str = "a", **overrides: Any) -> Zone:
        settings = self.settings(zone, **overrides)
        await ensure_database(settings.database_url)
        app = create_app(settings)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        started = Zone(settings, client, app)
        self.zones.append(started)
        return started

    async def bootstrap(self, zone: Zone, practice: str = "fysio") -> str:
        """A practice with its administrator, materialised in every running zone."""
        employee = await bootstrap(
            zone.auth, practice, "Fysio Jansen", "admin", "Anna Jansen", ADMIN_PASSWORD
        )
        for z in self.zones:
            await self.wait_employee(z, practice, employee)
        return employee

    async def wait_employee(self, zone: Zone, practice: str, employee: str) -> None:
        async def present() -> bool:
            return bool(
                await zone.auth.pool.fetchval(
                    """SELECT EXISTS (SELECT 1 FROM practices WHERE id = $1)
                          AND EXISTS (SELECT 1 FROM employees WHERE practice = $1 AND id = $2)
                          AND EXISTS (SELECT 1 FROM credentials
                                      WHERE practice = $1 AND employee = $2)""",
                    practice,
                    employee,
                )
            )

        await wait_for(present)

    async def close(self) -> None:
        for zone in self.zones:
            await zone.stop()


@pytest.fixture
async def cluster(postgres: Postgres, broker: Broker) -> AsyncIterator[Cluster]:
    c = Cluster(postgres, broker)
    yield c
    await c.close()


async def login(
    zone: Zone, practice: str, username: str, password: str
) -> tuple[int, dict[str, Any]]:
    response = await zone.client.post(
        "/v1/login", json={"practice": practice, "username": username, "password": password}
    )
    return response.status, await response.json(content_type=None)


async def read_events(
    broker: Broker, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20
) -> list[dict[str, Any]]:
    """Every event on ``topic`` from the beginning, read until ``until`` holds (or timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(events):
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                events.extend(json.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    return events


def consumer_of(zone: Zone) -> Any:
    return zone.app[CONSUMER]
