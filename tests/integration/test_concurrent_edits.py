"""Security changes survive a concurrent edit of the same record in the other zone.

Both zones run auth and enrolment (real services in-process, real PostgreSQL, real broker).
An edit is made *concurrent* for real: zone a's outbox relay is held (its relay lock taken by
the test, as if zone a had lost the broker), zone a makes its change, zone b makes an unrelated
change from the same base version and zone a applies it; then zone a's relay is released and
its change reaches zone b. The test waits until every service of both zones has consumed both
events (their ids in each inbox) and checks the merged state."""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from services.auth.domain.clients import subject as client_subject
from services.auth.http import CLIENTS
from shared import otp
from shared.http import RUNTIME
from shared.outbox import _RELAY_LOCK
from shared.problems import Problem
from tests.support.bus import applied, read_topic
from tests.support.certificates import VECOZO
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, wait_for
from tests.support.factors import Setup, add_factor, second_step, two_factor_setup, verify
from tests.support.tokens import knows_tokens_of, session_token

P = "fysio"
PIET = "piet01"
PIET_PASSWORD = "Kruisbes-Vlinder-Aardbei-42!"


@asynccontextmanager
async def outbox_held(zone: Zone) -> AsyncIterator[None]:
    """Zone ``zone``'s events stay in its outbox meanwhile: the test takes the relay's lock
    (ending the relay's connection, which retries after a back-off and then waits for it)."""
    conn = await asyncpg.connect(zone.settings.database_url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = 0 AND objid = $1 AND objsubid = 1 AND granted",
            _RELAY_LOCK,
        )
        await conn.execute("SELECT pg_advisory_lock($1)", _RELAY_LOCK)
        yield
    finally:
        await conn.close()


@dataclass
class Zones:
    """Auth and enrolment in zones a and b, the practice bootstrapped in zone a."""

    cluster: Cluster
    auth_a: Zone
    auth_b: Zone
    enrol_a: Zone
    enrol_b: Zone
    admin: str

    @property
    def all(self) -> list[Zone]:
        return [self.auth_a, self.auth_b, self.enrol_a, self.enrol_b]

    def token(self) -> str:
        """The administrator's two-factor session, signed by auth a as it issues them."""
        return session_token(self.auth_a, self.admin, practice=P, rights_group=1)

    async def enrol(self, zone: Zone, method: str, path: str, body: Any = None) -> Any:
        response = await zone.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token()}"}
        )
        assert response.status in (200, 201, 204), await response.text()
        return None if response.status == 204 else await response.json()

    async def everywhere(self, sql: str, *args: Any) -> list[Any]:
        return [await pool(zone).fetchval(sql, *args) for zone in self.all]

    async def events(self, topic: str, subject: str, count: int) -> list[dict[str, Any]]:
        """The events about ``subject`` on ``topic``, once there are ``count``."""

        def about(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e for e in events if e["subject"] == subject]

        name = self.auth_a.settings.topic(topic)
        found = about(
            await read_topic(self.cluster.broker.bootstrap, name, lambda e: len(about(e)) >= count)
        )
        assert len(found) >= count, f"{len(found)} events about {subject} on {topic}"
        return found

    async def consumed(
        self, topic: str, subject: str, count: int, zones: list[Zone] | None = None
    ) -> None:
        """Wait until ``count`` events about ``subject`` are on ``topic`` and every service
        (of ``zones``) has consumed them."""
        events = await self.events(topic, subject, count)

        async def everywhere() -> bool:
            for zone in zones or self.all:
                # The certificate store applies its own zone's events as it writes them.
                ids = [
                    uuid.UUID(e["id"])
                    for e in events
                    if zone.settings.service != "certs"
                    or e["source"].rpartition("@")[2] != zone.settings.zone
                ]
                if not await applied(pool(zone), ids):
                    return False
            return True

        await wait_for(everywhere, 30)


def pool(zone: Zone) -> asyncpg.Pool:
    if zone.settings.service == "auth":
        return zone.auth.pool
    if zone.settings.service == "certs":
        return certs_pool(zone)
    return zone.app[RUNTIME].pool


async def two_zones(cluster: Cluster, setup: Setup | None = None) -> Zones:
    """Both zones; with ``setup`` (auth's zones already started, a two-factor practice) only
    enrolment is started."""
    if setup is None:
        auth_a = await cluster.start("a")
        auth_b = await cluster.start("b")
    else:
        auth_a, auth_b = setup.zones
    enrol_a = await cluster.start("a", "enrolment")
    enrol_b = await cluster.start("b", "enrolment")
    admin = setup.employee if setup else await cluster.bootstrap(auth_a)
    zones = Zones(cluster, auth_a, auth_b, enrol_a, enrol_b, admin)

    for zone in zones.all:
        knows = functools.partial(knows_tokens_of, pool(zone), auth_a, P, admin)
        await wait_for(knows, 30)
    return zones


async def same_version(zones: Zones, sql: str, version: int, *args: Any) -> None:
    async def there() -> bool:
        return all(v == version for v in await zones.everywhere(sql, *args))

    await wait_for(there, 30)


async def test_out_of_service_survives_a_concurrent_email_change(cluster: Cluster) -> None:
    zones = await two_zones(cluster)
    piet = {"username": "piet", "name": "Piet de Vries", "email": "piet@fysio.example"}
    await zones.enrol(zones.enrol_a, "PUT", f"/v1/practices/{P}/employees/{PIET}", piet)
    await same_version(zones, "SELECT version FROM employees WHERE id = $1", 1, PIET)
    response = await zones.auth_a.client.put(
        f"/v1/practices/{P}/employees/{PIET}/password",
        json={"password": PIET_PASSWORD, "temporary": False},
        headers={"Authorization": f"Bearer {zones.token()}"},
    )
    assert response.status == 200, await response.text()
    await wait_for(lambda: _has_password([zones.auth_a, zones.auth_b], PIET))

    async with outbox_held(zones.enrol_a):
        path = f"/v1/practices/{P}/employees/{PIET}"
        await zones.enrol(zones.enrol_a, "PUT", path, {"in_service": False})
        await zones.enrol(zones.enrol_b, "PUT", path, {"email": "piet.new@fysio.example"})

        async def b_applied_in_a() -> bool:
            email = await pool(zones.enrol_a).fetchval(
                "SELECT email FROM employees WHERE id = $1", PIET
            )
            return bool(email == "piet.new@fysio.example")

        await wait_for(b_applied_in_a)
    await zones.consumed("directory.employees", PIET, 3)

    in_service = await zones.everywhere("SELECT in_service FROM employees WHERE id = $1", PIET)
    assert in_service == [False] * 4, f"in_service after convergence: {in_service}"
    emails = await zones.everywhere("SELECT email FROM employees WHERE id = $1", PIET)
    assert emails == ["piet.new@fysio.example"] * 4
    for zone in (zones.auth_a, zones.auth_b):
        status, body = await login(zone, P, "piet", PIET_PASSWORD)
        assert status == 403 and body["type"].endswith("/account-disabled"), body


async def _has_password(auths: list[Zone], employee: str) -> bool:
    for zone in auths:
        if not await zone.auth.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM credentials WHERE employee = $1)", employee
        ):
            return False
    return True


async def test_two_factor_required_survives_a_concurrent_name_change(cluster: Cluster) -> None:
    zones = await two_zones(cluster)
    path = f"/v1/practices/{P}"
    ready = {"email": "praktijk@fysio.example", "password_policy": {"min_strength": 60}}
    await zones.enrol(zones.enrol_a, "PUT", path, ready)
    await same_version(zones, "SELECT version FROM practices WHERE id = $1", 2, P)

    async with outbox_held(zones.enrol_a):
        switch = {"two_factor_required": True, "confirm_incomplete": True}
        await zones.enrol(zones.enrol_a, "PUT", path, switch)
        await zones.enrol(zones.enrol_b, "PUT", path, {"name": "Fysio Jansen & Van Dijk"})

        async def b_applied_in_a() -> bool:
            name = await pool(zones.enrol_a).fetchval("SELECT name FROM practices WHERE id = $1", P)
            return bool(name == "Fysio Jansen & Van Dijk")

        await wait_for(b_applied_in_a)
    await zones.consumed("directory.practices", P, 4)

    required = await zones.everywhere("SELECT two_factor_required FROM practices WHERE id = $1", P)
    assert required == [True] * 4, f"two_factor_required after convergence: {required}"
    names = await zones.everywhere("SELECT name FROM practices WHERE id = $1", P)
    assert names == ["Fysio Jansen & Van Dijk"] * 4


async def test_deactivated_factor_stays_deactivated_when_its_code_is_spent_concurrently(
    cluster: Cluster,
) -> None:
    zones = await two_zones(cluster, await two_factor_setup(cluster, ("a", "b")))
    code = otp.recovery_code()
    # A recovery code (as enrolment writes it), replicated to both zones of auth and enrolment.
    factor = await add_factor(
        [zones.auth_a, zones.auth_b], zones.admin, "recovery", {"hash": otp.code_hash(code)}
    )
    await same_version(zones, "SELECT version FROM factors WHERE id = $1", 1, factor)

    async with outbox_held(zones.enrol_a):
        # Zone a: the administrator deactivates every factor (a lost phone) ...
        path = f"/v1/practices/{P}/employees/{zones.admin}/factors"
        await zones.enrol(zones.enrol_a, "DELETE", path)
        # ... while in zone b the recovery code is spent (and replaced by a new one).
        step = await second_step(zones.auth_b)
        status, passed = await verify(zones.auth_b, step["login_id"], "recovery", code)
        assert status == 200, passed
        new_code = passed["recovery_code"]
        # The spend (written by auth b) reaches enrolment a, which has the deactivation.
        spend = [uuid.UUID(e["id"]) for e in await zones.events("factors", factor, 2)]
        await wait_for(lambda: applied(pool(zones.enrol_a), spend))
    await zones.consumed("factors", factor, 3)

    active = await zones.everywhere("SELECT active FROM factors WHERE id = $1", factor)
    assert active == [False] * 4, f"recovery factor active after convergence: {active}"
    for zone in (zones.auth_a, zones.auth_b):
        status, body = await login(zone, P, "admin", ADMIN_PASSWORD)
        assert status == 200 and body["next"] == "enrol", body
        status, refused = await verify(zone, body["login_id"], "recovery", new_code)
        assert status != 200, f"the new recovery code still logs in: {refused}"


async def test_password_change_survives_a_concurrent_employee_edit(cluster: Cluster) -> None:
    zones = await two_zones(cluster)
    new_password = "Een-Nieuw-Lang-Wachtwoord-Voor-Zone-A"
    async with outbox_held(zones.auth_a):
        response = await zones.auth_a.client.put(
            f"/v1/practices/{P}/employees/{zones.admin}/password",
            json={"password": new_password, "temporary": False},
            headers={"Authorization": f"Bearer {zones.token()}"},
        )
        assert response.status == 200, await response.text()
        await zones.enrol(
            zones.enrol_b,
            "PUT",
            f"/v1/practices/{P}/employees/{zones.admin}",
            {"email": "anna@fysio.example"},
        )
        await wait_for(lambda: _email_in(zones.auth_a, zones.admin))
    await zones.consumed("auth.credentials", zones.admin, 2, [zones.auth_a, zones.auth_b])
    await zones.consumed("directory.employees", zones.admin, 2)

    for zone in (zones.auth_a, zones.auth_b):
        status, _ = await login(zone, P, "admin", new_password)
        assert status == 200
        status, _ = await login(zone, P, "admin", ADMIN_PASSWORD)
        assert status == 401
    emails = await zones.everywhere("SELECT email FROM employees WHERE id = $1", zones.admin)
    assert emails == ["anna@fysio.example"] * 4


async def _email_in(zone: Zone, employee: str) -> bool:
    email = await zone.auth.pool.fetchval("SELECT email FROM employees WHERE id = $1", employee)
    return bool(email == "anna@fysio.example")


async def test_removed_client_stays_removed_when_its_secret_is_renewed_concurrently(
    cluster: Cluster,
) -> None:
    zones = await two_zones(cluster)
    in_a, in_b = zones.auth_a.app[CLIENTS], zones.auth_b.app[CLIENTS]
    await in_a.add("his", "Praktijksoftware")
    await wait_for(lambda: _client_active([zones.auth_b], True))

    async with outbox_held(zones.auth_a):
        await in_a.remove("his")  # zone a: the relying service is removed ...
        secret = await in_b.add("his", "Praktijksoftware")  # ... zone b renews its secret
    await zones.consumed("auth.credentials", client_subject("his"), 3, [zones.auth_a, zones.auth_b])

    assert await _client_active([zones.auth_a, zones.auth_b], False), "removed in both zones"
    for zone in (zones.auth_a, zones.auth_b):
        with pytest.raises(Problem):
            await zone.app[CLIENTS].authenticate(basic_auth("his", secret))


async def _client_active(auths: list[Zone], active: bool) -> bool:
    for zone in auths:
        if await zone.auth.pool.fetchval("SELECT active FROM clients WHERE id = 'his'") != active:
            return False
    return True


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def certs_pool(zone: Zone) -> asyncpg.Pool:
    return zone.app[RUNTIME].pool


async def test_revoked_grant_stays_revoked_when_another_is_granted_concurrently(
    cluster: Cluster,
) -> None:
    zones = await two_zones(cluster)
    certs_a = await cluster.start("a", "certs")
    certs_b = await cluster.start("b", "certs")
    every = [certs_a, certs_b, zones.auth_a, zones.auth_b]
    for employee in (PIET, "anna01"):
        body = {"username": employee[:-2], "name": employee.title()}
        await zones.enrol(zones.enrol_a, "PUT", f"/v1/practices/{P}/employees/{employee}", body)

    async def known() -> bool:
        for zone in (certs_a, certs_b):
            if await certs_pool(zone).fetchval(
                "SELECT count(*) FROM employees WHERE practice = $1 AND id = ANY($2::text[])",
                P,
                [PIET, "anna01"],
            ) != 2 or not await knows_tokens_of(certs_pool(zone), zones.auth_a):
                return False
        return True

    await wait_for(known, 30)
    cert = await zones.enrol(
        certs_a, "POST", f"/v1/practices/{P}/certificates", VECOZO.issue().pem_body()
    )
    one = f"/v1/practices/{P}/certificates/{cert['nr']}"
    await zones.enrol(certs_a, "PUT", f"{one}/grants/{PIET}")
    await zones.consumed("certs.events", cert["nr"], 2, every)

    async with outbox_held(certs_a):
        await zones.enrol(certs_a, "DELETE", f"{one}/grants/{PIET}")  # zone a: revoke piet ...
        await zones.enrol(certs_b, "PUT", f"{one}/grants/anna01")  # ... zone b: grant anna
        await zones.consumed("certs.events", cert["nr"], 3, [certs_a])
    await zones.consumed("certs.events", cert["nr"], 4, every)

    grants = [
        sorted(
            await certs_pool(z).fetchval(
                "SELECT grants FROM certificates WHERE nr = $1", cert["nr"]
            )
        )
        for z in (certs_a, certs_b)
    ] + [
        sorted(
            await z.auth.pool.fetchval("SELECT grants FROM certificates WHERE nr = $1", cert["nr"])
        )
        for z in (zones.auth_a, zones.auth_b)
    ]
    assert grants == [["anna01"]] * 4, f"grants after convergence: {grants}"


async def test_concurrent_edits_of_two_password_settings_both_survive(cluster: Cluster) -> None:
    zones = await two_zones(cluster)
    path = f"/v1/practices/{P}"
    await zones.enrol(zones.enrol_a, "PUT", path, {"password_policy": {"min_strength": 60}})
    await same_version(zones, "SELECT version FROM practices WHERE id = $1", 2, P)

    async with outbox_held(zones.enrol_a):
        await zones.enrol(zones.enrol_a, "PUT", path, {"password_policy": {"max_attempts": 3}})
        await zones.enrol(zones.enrol_b, "PUT", path, {"password_policy": {"min_strength": 80}})
        await zones.consumed("directory.practices", P, 3, [zones.enrol_a])
    await zones.consumed("directory.practices", P, 4)

    policies = await zones.everywhere("SELECT policy FROM practices WHERE id = $1", P)
    settings = [
        (p["max_attempts"], p["min_strength"])
        for p in (json.loads(x) if isinstance(x, str) else x for x in policies)
    ]
    assert settings == [(3, 80)] * 4, f"(max_attempts, min_strength) after convergence: {settings}"
