"""The second step of a login in tests, with the enrolment service simulated: its
``practice.upserted``, ``employee.upserted`` and ``factor.credential`` events published through
auth's outbox, sealed with the suite's keyring; TOTP codes from Debian's ``oathtool``, an
independent generator; and the calls of the second step."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import otp
from shared.events import (
    EmployeeUpserted,
    Envelope,
    FactorCredential,
    PasswordPolicy,
    PracticeUpserted,
    factor_aad,
    notify_aad,
    recovery_factor_id,
    utcnow,
)
from shared.outbox import publish
from shared.topics import DIRECTORY_EMPLOYEES, DIRECTORY_PRACTICES, FACTORS, Topic
from tests.support.bus import events, of_type
from tests.support.cluster import ADMIN_PASSWORD, KEYRING, Cluster, Zone, login, wait_for
from tests.support.tokens import verify_with_jwks

PRACTICE = "fysio"
EMAIL = "anna@fysio-jansen.example"
PHONE = "+31612345678"
PRACTICE_EMAIL = "praktijk@fysio-jansen.example"


# -- simulating the enrolment service ---------------------------------------------------------


async def emit(
    zone: Zone,
    topic: Topic,
    type_: str,
    subject: str,
    data: dict[str, Any],
    practice: str = PRACTICE,
    source: str = "enrolment@a",
) -> None:
    """An event of ``practice`` published through ``zone``'s outbox, as ``source`` (the
    enrolment service unless said otherwise) writes it."""
    async with zone.auth.pool.acquire() as conn, conn.transaction():
        await publish(
            conn,
            zone.settings,
            topic,
            Envelope(
                type=type_,
                source=source,
                practice=practice,
                subject=subject,
                data=data,
            ),
        )


async def until_in(zones: list[Zone], query: str, *args: Any) -> None:
    """Wait until ``query`` is true in every zone's database."""
    for zone in zones:

        async def holds(zone: Zone = zone) -> bool:
            return bool(await zone.auth.pool.fetchval(query, *args))

        await wait_for(holds)


async def two_factor_practice(zones: list[Zone], version: int = 2, **policy: Any) -> None:
    body = PracticeUpserted(
        name="Fysio Jansen",
        email=PRACTICE_EMAIL,
        two_factor_required=True,
        password_policy=PasswordPolicy(**policy),
        version=version,
        updated_at=utcnow(),
        zone="a",
    )
    await emit(
        zones[0], DIRECTORY_PRACTICES, "practice.upserted", PRACTICE, body.model_dump(mode="json")
    )
    await until_in(zones, "SELECT version = $2 FROM practices WHERE id = $1", PRACTICE, version)


async def set_employee(
    zones: list[Zone], employee: str, version: int, in_service: bool = True
) -> None:
    """The administrator with an e-mail address and a phone number."""
    body = EmployeeUpserted(
        employee=employee,
        username="admin",
        name="Anna Jansen",
        email=EMAIL,
        phone=PHONE,
        rights_group=1,
        in_service=in_service,
        version=version,
        updated_at=utcnow(),
        zone="a",
    )
    await emit(
        zones[0], DIRECTORY_EMPLOYEES, "employee.upserted", employee, body.model_dump(mode="json")
    )
    await until_in(
        zones,
        "SELECT version = $3 FROM employees WHERE practice = $1 AND id = $2",
        PRACTICE,
        employee,
        version,
    )


async def add_factor(
    zones: list[Zone],
    employee: str,
    kind: str,
    secret: dict[str, str],
    factor: str | None = None,
    version: int = 1,
    confirmed_step: int | None = None,
) -> str:
    factor = factor or (
        recovery_factor_id(employee) if kind == "recovery" else f"{kind}.{uuid.uuid4().hex[:8]}"
    )
    now = utcnow()
    body = FactorCredential(
        factor=factor,
        employee=employee,
        kind=kind,
        sealed=KEYRING.seal(json.dumps(secret).encode(), factor_aad(PRACTICE, employee, factor)),
        active=True,
        created_at=now,
        confirmed_step=confirmed_step,
        version=version,
        updated_at=now,
        zone="a",
    )
    await emit(zones[0], FACTORS, "factor.credential", factor, body.model_dump(mode="json"))
    await until_in(
        zones,
        "SELECT version = $3 FROM factors WHERE practice = $1 AND id = $2",
        PRACTICE,
        factor,
        version,
    )
    return factor


@dataclass
class Setup:
    zones: list[Zone]
    employee: str
    secret: str

    @property
    def zone(self) -> Zone:
        return self.zones[0]


async def two_factor_setup(
    cluster: Cluster,
    zones: tuple[str, ...] = ("a",),
    totp: bool = True,
    confirmed_step: int | None = None,
    **overrides: Any,
) -> Setup:
    """Zones of auth, a practice that requires two factors, its administrator with e-mail and
    phone and (unless ``totp`` is false) an enrolled authenticator."""
    started = [await cluster.start(name, **overrides) for name in zones]
    employee = await cluster.bootstrap(started[0])
    await two_factor_practice(started)
    await set_employee(started, employee, 2)
    secret = otp.new_secret()
    if totp:
        await add_factor(
            started, employee, "totp", {"secret": secret}, confirmed_step=confirmed_step
        )
    return Setup(started, employee, secret)


# -- codes and calls --------------------------------------------------------------------------


async def oathtool(secret: str, at: datetime | None = None) -> str:
    """The TOTP code of ``secret`` at ``at`` (default now), from Debian's oathtool."""
    args = ["--totp", "-b", secret]
    if at is not None:
        args += ["--now", at.strftime("%Y-%m-%d %H:%M:%S UTC")]
    proc = await asyncio.create_subprocess_exec("oathtool", *args, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode().strip()


async def steady(margin: float = 8.0) -> datetime:
    """The start of a time step with at least ``margin`` seconds of it left, so that codes of
    the steps around it stay within the ±1 window for the next few seconds."""
    left = 30 - time.time() % 30
    if left < margin:
        await asyncio.sleep(left + 0.05)
    now = utcnow()
    return now - timedelta(seconds=now.timestamp() % 30)


def step_time(base: datetime, steps: int) -> datetime:
    return base + timedelta(seconds=30 * steps + 1)


async def second_step(zone: Zone) -> dict[str, Any]:
    status, body = await login(zone, PRACTICE, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "second_factor", body
    return body


async def verify(
    zone: Zone, login_id: str, factor: str, code: str | None
) -> tuple[int, dict[str, Any]]:
    payload: dict[str, Any] = {"factor": factor}
    if code is not None:
        payload["code"] = code
    response = await zone.client.post(f"/v1/login/{login_id}/verify", json=payload)
    return response.status, await response.json(content_type=None)


async def challenge(zone: Zone, login_id: str, factor: str) -> tuple[int, dict[str, Any]]:
    response = await zone.client.post(f"/v1/login/{login_id}/challenge", json={"factor": factor})
    return response.status, await response.json(content_type=None)


def problem(answer: tuple[int, dict[str, Any]], status: int, slug: str) -> None:
    assert answer[0] == status and answer[1]["type"].endswith(f"/{slug}"), answer


def wrong(*valid: str) -> str:
    """A six-digit code that is none of ``valid``."""
    n = 0
    while f"{n:06d}" in valid:
        n += 1
    return f"{n:06d}"


async def claims_of(zone: Zone, token: str) -> dict[str, Any]:
    jwks = await (await zone.client.get("/.well-known/jwks.json")).json()
    return verify_with_jwks(token, jwks)


def login_code(event: dict[str, Any]) -> str:
    """Open the sealed code of a ``login_code`` request as the notifier does."""
    sealed = event["data"]["sealed"]["code"]
    return KEYRING.open(
        sealed, notify_aad(event["practice"], uuid.UUID(event["id"]), "code")
    ).decode()


async def sent_codes(cluster: Cluster, zone: Zone, channel: str, count: int) -> list[str]:
    requests = await events(
        cluster,
        zone,
        "notify.requests",
        of_type("notify.requested", template="login_code", channel=channel),
        count,
    )
    for request in requests:
        assert "code" not in request["data"]["parameters"]
    return [login_code(r) for r in requests]
