"""One local deployment (services/dev/deployment.py) per test session, for every fault test:
both zones of every service as real OS processes on free ports, each zone's own embedded
PostgreSQL, one embedded broker, the SMTP and SMS sinks. Each test leaves it as it found it
(``deployment`` restores every fault after the test)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from services.dev.deployment import Deployment

log = logging.getLogger("tests.faults")
PASSWORD = "Zeer-Sterk-Wachtwoord-2026!"
#: Every service of the fault deployment gets these. Replication is fast (a short outbox
#: sweep); the load comes from one address, so auth's per-address login budget is lifted; and
#: password hashing is cheaper (argon2 at its floor) so that 20 clients logging in on a small
#: machine measure failover, not hashing.
SERVICE_ENV = {
    "TWEESTAP_OUTBOX_SWEEP_SECONDS": "0.2",
    "TWEESTAP_LOGIN_RATE_ATTEMPTS": "100000",
    "TWEESTAP_LOGIN_RATE_WINDOW_SECONDS": "1",
    "TWEESTAP_ARGON2_MEMORY_KIB": "8192",
    "TWEESTAP_ARGON2_TIME_COST": "1",
    "TWEESTAP_TOPIC_PARTITIONS": "2",
}


@dataclass
class Transcript:
    """What the deployment said (restarts, zones down and up), kept for assertions."""

    lines: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, line: str) -> None:
        log.info("deployment: %s", line)
        with self._lock:
            self.lines.append(line)

    def since(self, index: int) -> list[str]:
        with self._lock:
            return self.lines[index:]


@dataclass(frozen=True)
class Account:
    """A bootstrapped practice's administrator: password-only login, no second factor."""

    practice: str
    username: str
    password: str
    employee: str


@pytest.fixture(scope="session")
def transcript() -> Transcript:
    return Transcript()


@pytest.fixture(scope="session")
def fault_deployment(
    tmp_path_factory: pytest.TempPathFactory, transcript: Transcript
) -> Iterator[Deployment]:
    """The session's deployment, started once (use ``deployment`` in tests: it restores)."""
    root = tmp_path_factory.mktemp("deployment")
    deployment = Deployment(root, ports="free", env=SERVICE_ENV, echo=transcript)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def deployment(fault_deployment: Deployment) -> Iterator[Deployment]:
    """The running deployment; after the test every fault is undone (broker resumed,
    PostgreSQL started, services started and ready)."""
    fault_deployment.restore()
    yield fault_deployment
    fault_deployment.restore()


def auth_zones(deployment: Deployment) -> list[dict[str, str]]:
    """The SDK's zones, in order: each zone's base URL of every service."""
    return [
        {service: deployment.url(service, zone) for service in deployment.services}
        for zone in deployment.zones
    ]


async def new_account(
    deployment: Deployment, prefix: str = "fault", zone: str | None = None
) -> Account:
    """A practice of its own (so tests never share lockouts or sessions), made in ``zone``
    (default: the first) and present in every running zone's auth when this returns."""
    practice = f"{prefix}-{secrets.token_hex(4)}"
    employee = await deployment.bootstrap(practice, "admin", PASSWORD, zone=zone)
    return Account(practice, "admin", PASSWORD, employee)
