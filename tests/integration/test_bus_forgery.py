"""Forged and unbounded events on the bus (Hardening II, findings 1 to 5).

Real auth, enrolment and certs in both zones, the real broker and PostgreSQL. The attacker has
produce rights on the topics (a stolen or misconfigured principal) and nothing else: it writes
records straight to the broker with aiokafka, claiming to be a zone's service. Each forgery
must be dead-lettered (or skipped as the zone's own event) by every service of either zone and
change nothing; the genuine flow must still work. A second writer here holds the deployment's
sealing keyring, as Tweestap's own services do: it shows that the bounds (times, TOTP steps,
versions) hold even for a record with a valid tag."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from shared.bus_tags import BusTags
from shared.events import Envelope, PracticeUpserted, utcnow
from shared.http import RUNTIME
from shared.sealing import Keyring
from tests.support.cluster import ADMIN_PASSWORD, SEALING, Cluster, Zone, login, wait_for
from tests.support.factors import oathtool, second_step, two_factor_setup, verify
from tests.support.tokens import knows_tokens_of

P = "fysio"
SERVICES = ("auth", "enrolment", "certs")
FAR_FUTURE = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
#: What a genuine writer holds (Tweestap's sealing keyring): a valid tag.
GENUINE = BusTags(Keyring.parse(SEALING))


@dataclass
class Rig:
    cluster: Cluster
    zones: dict[tuple[str, str], Zone] = field(default_factory=dict)
    admin: str = ""
    admin_token: str = ""

    def zone(self, service: str, zone: str) -> Zone:
        return self.zones[(service, zone)]

    def pool(self, service: str, zone: str) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.zone(service, zone).app[RUNTIME].pool
        return pool

    def topic(self, name: str) -> str:
        return f"{self.cluster.prefix}{name}"

    async def produce(self, topic: str, event: Envelope, tagged: bool = False) -> None:
        """``event`` on ``topic``: untagged (the attacker) or with a valid tag."""
        full = self.topic(topic)
        value, key = event.model_dump_json().encode(), event.key.encode()
        headers = GENUINE.headers(full, key, value) if tagged else None
        producer = AIOKafkaProducer(bootstrap_servers=self.cluster.broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(full, value, key=key, headers=headers)
        finally:
            await producer.stop()

    async def fetchval(self, service: str, zone: str, sql: str, *args: Any) -> Any:
        return await self.pool(service, zone).fetchval(sql, *args)

    async def dead_lettered(
        self, topic: str, event: Envelope, where: list[tuple[str, str]]
    ) -> None:
        """Wait until every (service, zone) in ``where`` has dead-lettered ``event``."""
        for service, zone in where:

            async def kept(service: str = service, zone: str = zone) -> bool:
                return bool(
                    await self.fetchval(
                        service,
                        zone,
                        """SELECT EXISTS (SELECT 1 FROM dead_letters WHERE topic = $1
                                          AND position(convert_to($2, 'UTF8') IN raw) > 0)""",
                        self.topic(topic),
                        str(event.id),
                    )
                )

            await wait_for(kept, timeout=20)

    async def reasons(self, service: str, zone: str, event: Envelope) -> list[str]:
        rows = await self.pool(service, zone).fetch(
            "SELECT reason FROM dead_letters WHERE position(convert_to($1, 'UTF8') IN raw) > 0",
            str(event.id),
        )
        return [r["reason"] for r in rows]

    async def call(
        self, service: str, zone: str, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        response = await self.zone(service, zone).client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        return response.status, await response.json(content_type=None)


@pytest.fixture
async def rig(cluster: Cluster) -> AsyncIterator[Rig]:
    rig = Rig(cluster)
    for zone in ("a", "b"):
        for service in SERVICES:
            rig.zones[(service, zone)] = await cluster.start(zone, service)
    rig.admin = await cluster.bootstrap(rig.zone("auth", "a"))

    auths = [rig.zone("auth", zone) for zone in ("a", "b")]
    for service, zone in rig.zones:
        for auth in auths:  # the tokens of either zone
            knows = functools.partial(knows_tokens_of, rig.pool(service, zone), auth, P, rig.admin)
            await wait_for(knows, timeout=30)
    status, body = await login(rig.zone("auth", "a"), P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    rig.admin_token = body["token"]["token"]
    yield rig


def auth_event(type_: str, zone: str, employee: str, data: dict[str, Any], **kw: Any) -> Envelope:
    return Envelope(
        type=type_, source=f"auth@{zone}", practice=P, subject=employee, data=data, **kw
    )


# -- 1. login.succeeded dated 2100 ------------------------------------------------------------


async def test_a_forged_login_success_resets_no_lockout_in_either_zone(rig: Rig) -> None:
    # A wrong password in each zone: failures that a reset would wipe.
    for zone in ("a", "b"):
        status, _ = await login(rig.zone("auth", zone), P, "admin", "wrong-password")
        assert status == 401
    data = {"username": "admin", "employee": rig.admin, "amr": ["pwd"]}
    # Claimed by each zone, so that the other zone would apply it; and one with a valid tag
    # (a writer whose clock is off, or a replay with a changed date) that the time bound stops.
    forged = {
        zone: auth_event("login.succeeded", zone, rig.admin, data, time=FAR_FUTURE)
        for zone in ("a", "b")
    }
    tagged = auth_event("login.succeeded", "b", rig.admin, data, time=FAR_FUTURE)
    for event in forged.values():
        await rig.produce("auth.events", event)
    await rig.produce("auth.events", tagged, tagged=True)
    await rig.dead_lettered("auth.events", forged["b"], [("auth", "a")])
    await rig.dead_lettered("auth.events", forged["a"], [("auth", "b")])
    await rig.dead_lettered("auth.events", tagged, [("auth", "a")])
    assert any("tag" in r for r in await rig.reasons("auth", "a", forged["b"]))
    assert any("future" in r for r in await rig.reasons("auth", "a", tagged))

    horizon = utcnow() + timedelta(days=1)
    for zone in ("a", "b"):
        for table in ("login_resets", "last_logins"):
            late = await rig.fetchval(
                "auth",
                zone,
                f"SELECT count(*) FROM {table} WHERE at > $1",  # noqa: S608
                horizon,
            )
            assert late == 0, f"zone {zone}: {table} moved to the future"
        failures = await rig.fetchval(
            "auth", zone, "SELECT count(*) FROM login_failures WHERE username = 'admin'"
        )
        assert failures >= 1, f"zone {zone}: the failures were reset"

    # The genuine flow: a login in zone b resets zone a's failures (replicated, tagged).
    status, body = await login(rig.zone("auth", "b"), P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body

    async def reset_in_a() -> bool:
        return not await rig.fetchval(
            "auth",
            "a",
            "SELECT count(*) FROM login_failures WHERE username = 'admin' AND zone = 'b'",
        )

    await wait_for(reset_in_a)


# -- 2. totp.used with step 2^62 ----------------------------------------------------------------


async def test_a_forged_totp_step_blocks_no_authenticator(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, zones=("a", "b"))
    a, b = s.zones
    rig = Rig(cluster, {("auth", "a"): a, ("auth", "b"): b})
    factor = await a.auth.pool.fetchval("SELECT id FROM factors WHERE kind = 'totp'")
    data = {"employee": s.employee, "factor": factor, "step": 2**62}
    forged = {zone: auth_event("totp.used", zone, s.employee, data) for zone in ("a", "b")}
    tagged = auth_event("totp.used", "a", s.employee, data)
    for event in forged.values():
        await rig.produce("auth.events", event)
    await rig.produce("auth.events", tagged, tagged=True)
    await rig.dead_lettered("auth.events", forged["b"], [("auth", "a")])
    await rig.dead_lettered("auth.events", forged["a"], [("auth", "b")])
    await rig.dead_lettered("auth.events", tagged, [("auth", "b")])
    assert any("step" in r for r in await rig.reasons("auth", "b", tagged))
    for zone in (a, b):
        assert (
            await zone.auth.pool.fetchval("SELECT count(*) FROM totp_steps WHERE step > $1", 10**9)
            == 0
        )

    # The genuine flow: the authenticator's codes still log in, in both zones.
    for zone, ahead in ((a, 0), (b, 1)):
        body = await second_step(zone)
        code = await oathtool(s.secret, utcnow() + timedelta(seconds=30 * ahead))
        status, answer = await verify(zone, body["login_id"], "totp", code)
        assert status == 200, answer


# -- 3. identity.verified dated in the future ---------------------------------------------------


async def test_a_forged_identity_check_gives_no_unlimited_guesses(rig: Rig) -> None:
    forged = {
        zone: Envelope(
            type="identity.verified",
            source=f"enrolment@{zone}",
            practice=P,
            subject=rig.admin,
            time=FAR_FUTURE,
        )
        for zone in ("a", "b")
    }
    tagged = forged["a"].model_copy(update={"id": uuid.uuid4()})
    for event in forged.values():
        await rig.produce("enrolment.events", event)
    await rig.produce("enrolment.events", tagged, tagged=True)
    await rig.dead_lettered("enrolment.events", forged["b"], [("enrolment", "a")])
    await rig.dead_lettered("enrolment.events", forged["a"], [("enrolment", "b")])
    await rig.dead_lettered("enrolment.events", tagged, [("enrolment", "b")])
    assert any("future" in r for r in await rig.reasons("enrolment", "b", tagged))
    for zone in ("a", "b"):
        late = await rig.fetchval(
            "enrolment",
            zone,
            "SELECT count(*) FROM identity_resets WHERE at > $1",
            utcnow() + timedelta(days=1),
        )
        assert late == 0, f"zone {zone}: identity checks reset into the future"


# -- 4. practice.upserted at version 2^31 - 1 --------------------------------------------------


def practice_event(zone: str, version: int, **values: Any) -> Envelope:
    body = PracticeUpserted(
        name="Fysio Jansen",
        two_factor_required=False,
        password_policy={"min_strength": 0, "max_attempts": 100},
        version=version,
        updated_at=utcnow(),
        zone=zone,
        **values,
    )
    return Envelope(
        type="practice.upserted",
        source=f"enrolment@{zone}",
        practice=P,
        subject=P,
        data=body.model_dump(mode="json"),
    )


async def test_a_forged_practice_policy_is_refused_and_versions_stay_editable(rig: Rig) -> None:
    status, body = await rig.call(
        "enrolment",
        "a",
        "PUT",
        f"/v1/practices/{P}",
        {"email": "praktijk@fysio.example", "password_policy": {"min_strength": 60}},
    )
    assert status == 200, body
    everywhere = [(s, z) for s in SERVICES for z in ("a", "b")]

    async def policy_everywhere(strength: int) -> bool:
        for service, zone in everywhere:
            if service == "certs":
                continue  # certs keeps no password policy
            got = await rig.fetchval(
                service,
                zone,
                "SELECT (policy->>'min_strength')::int FROM practices WHERE id = $1",
                P,
            )
            if got != strength:
                return False
        return True

    await wait_for(lambda: policy_everywhere(60))
    forged = practice_event("b", 2**31 - 1)
    leap = practice_event("b", 2**31 - 1)
    await rig.produce("directory.practices", forged)
    await rig.produce("directory.practices", leap, tagged=True)
    await rig.dead_lettered("directory.practices", forged, everywhere)
    await rig.dead_lettered("directory.practices", leap, everywhere)
    for service, zone in everywhere:
        reasons = await rig.reasons(service, zone, leap)
        assert any("version" in r for r in reasons), (service, zone, reasons)
    assert await policy_everywhere(60)

    # The console still edits the policy, and the edit reaches every service of both zones.
    status, body = await rig.call(
        "enrolment", "b", "PUT", f"/v1/practices/{P}", {"password_policy": {"min_strength": 70}}
    )
    assert status == 200, body
    await wait_for(lambda: policy_everywhere(70))


async def test_a_host_upsert_at_a_huge_version_cannot_freeze_an_administrator(rig: Rig) -> None:
    piet = {"username": "piet", "name": "Piet de Vries", "rights_group": 1}
    status, body = await rig.call(
        "enrolment", "a", "PUT", f"/v1/practices/{P}/employees/piet", piet
    )
    assert status == 200, body

    async def rights_everywhere(group: int) -> bool:
        for service in SERVICES:
            for zone in ("a", "b"):
                got = await rig.fetchval(
                    service,
                    zone,
                    "SELECT rights_group FROM employees WHERE practice = $1 AND id = 'piet'",
                    P,
                )
                if got != group:
                    return False
        return True

    await wait_for(lambda: rights_everywhere(1))
    host = Envelope(
        type="employee.upserted",
        source="his@a",
        practice=P,
        subject="piet",
        data={
            **piet,
            "employee": "piet",
            "version": 2**31 - 1,
            "updated_at": utcnow().isoformat(),
            "zone": "a",
        },
    )
    await rig.produce("directory.employees", host)
    await rig.dead_lettered(
        "directory.employees", host, [(s, z) for s in SERVICES for z in ("a", "b")]
    )
    # The administrator demotes Piet, and it holds everywhere.
    status, body = await rig.call(
        "enrolment", "b", "PUT", f"/v1/practices/{P}/employees/piet", {"rights_group": 2}
    )
    assert status == 200 and body["rights_group"] == 2, body
    await wait_for(lambda: rights_everywhere(2))


# -- 5. fabricated audit records ----------------------------------------------------------------


async def test_no_fabricated_record_enters_the_audit_trail(rig: Rig) -> None:
    fabricated = [
        auth_event(
            "password.changed",
            zone,
            rig.admin,
            {"username": "admin", "by": rig.admin, "actor": {"user": rig.admin, "rights_group": 1}},
        )
        for zone in ("a", "b")
    ]
    for event in fabricated:
        await rig.produce("auth.events", event)
    for event in fabricated:
        await rig.dead_lettered("auth.events", event, [("enrolment", "a"), ("enrolment", "b")])
    for zone in ("a", "b"):
        kept = await rig.fetchval(
            "enrolment",
            zone,
            "SELECT count(*) FROM audit_events WHERE event_id = ANY($1::uuid[])",
            [e.id for e in fabricated],
        )
        assert kept == 0, f"zone {zone} audited a fabricated record"

    # The genuine records of the bootstrap and the admin's login are there, in both zones.
    for zone in ("a", "b"):

        async def audited(zone: str = zone) -> bool:
            return bool(
                await rig.fetchval(
                    "enrolment",
                    zone,
                    "SELECT count(*) FROM audit_events WHERE action = 'login.succeeded'",
                )
            )

        await wait_for(audited)


async def test_an_untagged_directory_upsert_is_audited_as_unverified(rig: Rig) -> None:
    """Host systems may write ``directory.employees`` untagged; what such an upsert says of its
    writer (``source``, ``actor``) is a claim, and the audit trail records it as one."""
    claim = {"user": rig.admin, "rights_group": 1, "address": "10.0.0.1"}
    host = Envelope(
        type="employee.upserted",
        source="enrolment@a",  # a host claiming to be Tweestap's enrolment
        practice=P,
        subject="hanna",
        data={
            "employee": "hanna",
            "username": "hanna",
            "name": "Hanna Host",
            "rights_group": 2,
            "version": 1,
            "updated_at": utcnow().isoformat(),
            "zone": "a",
            "actor": claim,
        },
    )
    await rig.produce("directory.employees", host)
    for zone in ("a", "b"):

        async def recorded(zone: str = zone) -> Any:
            return await rig.pool("enrolment", zone).fetchrow(
                "SELECT source, actor_user, actor_rights_group, actor_address "
                "FROM audit_events WHERE event_id = $1",
                host.id,
            )

        row = await wait_for(recorded)
        assert row["source"] == "unverified:enrolment@a", dict(row)
        assert (row["actor_user"], row["actor_rights_group"], row["actor_address"]) == (
            None,
            None,
            None,
        ), "the claimed actor was believed"
