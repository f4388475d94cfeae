"""Real components for the suite: one embedded PostgreSQL and one Tansu broker per session;
a fresh database and a unique topic prefix per test, so tests are independent."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from services.auth.bootstrap import Adapters, Auth
from services.auth.http import ADAPTERS, AUTH, CONSUMER
from services.dev.infra import SERVICE_ROLE, Broker, Postgres, free_port
from services.registry import SERVICES
from shared.db import ensure_database
from shared.http import OPS_URL
from shared.sealing import generate_key
from shared.settings import Settings
from shared.trust import generate as generate_trust_key

T = TypeVar("T")
SEALING = f"t1:{generate_key()}"
#: The HMAC key of BSN hashes (enrolment), the same for every zone.
BSN_KEY = generate_key()
ADMIN_PASSWORD = "Zeer-Sterk-Wachtwoord-2026!"
#: The deployment's trust key pair: auth signs its key announcements, every service checks them.
TRUST_PRIVATE, TRUST_PUBLIC = generate_trust_key()


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


async def wait_ready(zone: Zone, timeout: float = 60.0) -> None:
    """Until ``zone`` answers 200 on ``/readyz`` (e.g. a restarted zone has caught up with the
    bus); on timeout, fail with what it says."""

    async def ready() -> bool:
        return (await zone.ops.get("/readyz")).status == 200

    try:
        await wait_for(ready, timeout=timeout, interval=0.2)
    except AssertionError:
        raise AssertionError(await (await zone.ops.get("/readyz")).text()) from None


@dataclass
class Inbox:
    """A real SMTP server (aiosmtpd) keeping every message it accepts, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    async def wait(self, address: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """The messages to ``address`` once there are at least ``count``."""

        async def arrived() -> list[EmailMessage]:
            found = self.to(address)
            return found if len(found) >= count else []

        return await wait_for(arrived, timeout)


@dataclass
class SmtpSink:
    inbox: Inbox
    port: int


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSink(inbox, port)
    controller.stop()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@dataclass
class OpsClient:
    """Requests to a running service's operations listener (probes, metrics)."""

    url: str
    session: aiohttp.ClientSession = field(default_factory=aiohttp.ClientSession)

    async def get(self, path: str) -> aiohttp.ClientResponse:
        return await self.session.get(f"{self.url}{path}")


@dataclass
class Zone:
    settings: Any
    client: TestClient[Any, Any]
    app: web.Application
    _ops: OpsClient | None = None

    @property
    def auth(self) -> Adapters:
        """Auth's adapters: pool, settings, signer, gate … (an auth zone only)."""
        return self.app[ADAPTERS]

    @property
    def use_cases(self) -> Auth:
        """Auth's use cases (an auth zone only)."""
        return self.app[AUTH]

    @property
    def ops(self) -> OpsClient:
        """The zone's operations listener: /metrics, /healthz, /readyz are not public."""
        if self._ops is None:
            self._ops = OpsClient(self.app[OPS_URL])
        return self._ops

    async def stop(self) -> None:
        if self._ops is not None:
            await self._ops.session.close()
        await self.client.close()


@dataclass
class Cluster:
    """Both zones of auth for one test: own databases, shared broker, unique topics."""

    postgres: Postgres
    broker: Broker
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}.")
    zones: list[Zone] = field(default_factory=list)

    def database(self, zone: str = "a", service: str = "auth") -> str:
        """The name of ``service``'s database in ``zone`` (one per test)."""
        base = self.prefix.rstrip(".")
        return f"{base}_{zone}" if service == "auth" else f"{base}_{service}_{zone}"

    def settings(self, zone: str = "a", service: str = "auth", **overrides: Any) -> Any:
        """Settings of ``service`` in ``zone``: its own database (one role, the superuser),
        the shared broker."""
        values: dict[str, Any] = {
            "zone": zone,
            "database_url": self.postgres.socket_dsn(self.database(zone, service)),
            "kafka_bootstrap": self.broker.bootstrap,
            "topic_prefix": self.prefix,
            "sealing_keys": SEALING,
            "bsn_key": BSN_KEY,
            "trust_public_keys": TRUST_PUBLIC,
            "trust_private_key": TRUST_PRIVATE,
            "outbox_sweep_seconds": 0.2,
            "topics": {"partitions": 2},
            **overrides,
        }
        settings: Settings = SERVICES[service].settings(**values)
        return settings

    async def start(self, zone: str = "a", service: str = "auth", **overrides: Any) -> Zone:
        """``service`` running in ``zone``; as deployed, it serves as its own role and the
        superuser owns its tables, unless the test gives a ``database_url``."""
        if "database_url" not in overrides:
            db = self.database(zone, service)
            overrides = {
                "database_url": self.postgres.socket_dsn(db, SERVICE_ROLE),
                "database_owner_url": self.postgres.socket_dsn(db),
                **overrides,
            }
        settings = self.settings(zone, service, **overrides)
        if settings.database_owner_url:
            await ensure_database(settings.database_owner_url, SERVICE_ROLE)
        else:
            await ensure_database(settings.database_url)
        app = SERVICES[service].create_app(settings)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        started = Zone(settings, client, app)
        self.zones.append(started)
        return started

    async def bootstrap(self, zone: Zone, practice: str = "fysio") -> str:
        """A practice with its administrator, materialised in every running auth."""
        employee = await zone.use_cases.first_practice.create(
            practice, "Fysio Jansen", "admin", "Anna Jansen", ADMIN_PASSWORD
        )
        for z in self.zones:
            if z.settings.service == "auth":
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
