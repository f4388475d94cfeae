"""The local deployment of the fault tests (services/dev/deployment.py, started by
tests/faults/conftest.py): its settings and transcript, accounts of practices of their own, the
SDK's zones, and what the tests read of auth's databases and answers."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import asyncpg
from tweestap_client import TweestapClient

from services.dev.deployment import Deployment
from services.dev.fault_env import FAULT_SERVICE_ENV
from tests.support.cluster import wait_for

T = TypeVar("T")
log = logging.getLogger("tests.faults")
PASSWORD = "Zeer-Sterk-Wachtwoord-2026!"
#: Every service of the fault deployment gets these (services/dev/fault_env.py, shared with
#: ``tweestap chaos``).
SERVICE_ENV = FAULT_SERVICE_ENV


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


#: Wrong-password logins per zone during an outage (fewer than the policy's lockout).
FAILED_LOGINS = 3
#: How long a catch-up may take before the test gives up (not a target: figures are logged).
CATCH_UP_LIMIT_SECONDS = 60.0
NEW_PASSWORD = "Nog-Veel-Sterker-Wachtwoord-2027!"


async def wait_until(check: Callable[[], Awaitable[T]], what: str, limit: float) -> T:
    """Poll ``check`` until it returns something truthy (bounded, no fixed sleeps)."""
    return await wait_for(check, timeout=limit, interval=0.1, what=what)


def sid_of(token: str) -> str:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return str(claims["sid"])


async def fetch_rows(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows
    finally:
        await conn.close()


async def revoked_in(deployment: Deployment, zone: str, sids: set[str]) -> set[str]:
    rows = await fetch_rows(
        deployment.dsn("auth", zone),
        "SELECT sid FROM revocations WHERE sid = ANY($1::text[])",
        list(sids),
    )
    return {r["sid"] for r in rows}


async def failures_in(deployment: Deployment, zone: str, practice: str, origin: str) -> int:
    rows = await fetch_rows(
        deployment.dsn("auth", zone),
        "SELECT count(*) AS n FROM login_failures WHERE practice = $1 AND zone = $2",
        practice,
        origin,
    )
    return int(rows[0]["n"])


async def renew_status(deployment: Deployment, zone: str, token: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{deployment.url('auth', zone)}/v1/tokens/renew",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        return response.status


async def change_password(client: TweestapClient, account: Account) -> None:
    """``account``'s password replaced by :data:`NEW_PASSWORD`, through ``client`` (logged in
    as the account) and whichever zone it is using."""
    answer = await client.request(
        "auth",
        "POST",
        "/v1/password",
        json={"current_password": account.password, "new_password": NEW_PASSWORD},
    )
    assert answer.status in (200, 204), answer.body


async def same_password(deployment: Deployment, account: Account) -> bool:
    """Whether both zones hold the same password credential for the account's employee."""
    query = (
        "SELECT version, updated_at, zone FROM credentials WHERE practice = $1 AND employee = $2"
    )
    a, b = [
        await fetch_rows(deployment.dsn("auth", z), query, account.practice, account.employee)
        for z in ("a", "b")
    ]
    return bool(a) and [tuple(r) for r in a] == [tuple(r) for r in b] and b[0]["zone"] == "b"
