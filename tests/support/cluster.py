"""The in-process zones of a test and the suite's keys: a :class:`Cluster` starts services
in zones (own databases, the session's broker, unique topics), each a :class:`Zone`; and the
waits, login and reads the tests make of them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.auth.bootstrap import Adapters, Auth
from services.auth.http import ADAPTERS, AUTH, CONSUMER
from services.dev.infra import SERVICE_ROLE, Broker, Postgres
from services.registry import SERVICES
from shared.db import ensure_database
from shared.http import OPS_URL, RUNTIME
from shared.sealing import Keyring, generate_key
from shared.settings import Settings
from shared.trust import generate as generate_trust_key

T = TypeVar("T")
SEALING = f"t1:{generate_key()}"
#: The suite's sealing keyring (what every service of every zone seals and tags with).
KEYRING = Keyring.parse(SEALING)
#: The HMAC key of BSN hashes (enrolment), the same for every zone.
BSN_KEY = generate_key()
ADMIN_PASSWORD = "Zeer-Sterk-Wachtwoord-2026!"
#: The deployment's trust key pair: auth signs its key announcements, every service checks them.
TRUST_PRIVATE, TRUST_PUBLIC = generate_trust_key()


async def wait_for(
    check: Callable[[], Awaitable[T]],
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds (saying
    ``what`` was awaited, if given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            if what is not None:
                raise AssertionError(f"{what}: not within {timeout} s")
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def known(value: T) -> T:
    """``value`` as an awaitable, for :func:`wait_for` with a condition already at hand:
    ``wait_for(lambda: known(state.current()))``."""
    return value


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
            # The services share the test's event loop, which a fixture's blocking call (a
            # broker stopped and waited for) holds for seconds: no stall is a stopped process
            # here (tests/unit/test_readiness.py and the fault tests check that mechanism).
            "stall_seconds": 600,
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


async def login(
    zone: Zone, practice: str, username: str, password: str
) -> tuple[int, dict[str, Any]]:
    response = await zone.client.post(
        "/v1/login", json={"practice": practice, "username": username, "password": password}
    )
    return response.status, await response.json(content_type=None)


async def login_from(
    zone: Zone, practice: str, username: str, password: str, forwarded: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = await zone.client.post(
        "/v1/login",
        json={"practice": practice, "username": username, "password": password},
        headers=headers,
    )
    return response.status, await response.json(content_type=None), dict(response.headers)


def slug(body: dict[str, Any]) -> str:
    """The last part of a problem's type (``…/problems/account-locked``: ``account-locked``)."""
    return str(body["type"]).rsplit("/", 1)[1]


def consumer_of(zone: Zone) -> Any:
    return zone.app[CONSUMER]


def pool(zone: Zone) -> asyncpg.Pool:
    """The database pool of any service's zone."""
    found: asyncpg.Pool = zone.app[RUNTIME].pool
    return found


async def metric(zone: Zone, name: str, **labels: str) -> float:
    """The value of one sample on the zone's /metrics (0 when absent)."""
    text = await (await zone.ops.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
