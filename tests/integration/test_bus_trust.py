"""Trust on the bus (issue 10, finding 12): a producer on the broker is not an authority.

Real auth, enrolment and certs of one zone, the real broker and PostgreSQL. The attacker here
has produce rights and nothing else: it writes straight to the topics with aiokafka."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import asyncpg
import jwt
import pytest

from services.registry import SERVICES
from shared.db import Migrations, ensure_database, migrate
from shared.events import Envelope
from shared.trust import TrustSigner
from shared.trust import generate as generate_trust_key
from tests.support.bus import applied, read_topic
from tests.support.cluster import TRUST_PRIVATE, Cluster, wait_for
from tests.support.forgery import forged_calls, forged_key, host_employee, key_event, key_settled
from tests.support.services import P, Rig, rig

#: The fixture of tests.support.services (imported so that pytest finds it here).
FIXTURES = (rig,)


# -- (a) sts.keys -----------------------------------------------------------------------------


async def test_forged_signing_keys_are_dead_lettered_and_verify_no_token(rig: Rig) -> None:
    # The real administrator's token works everywhere (the trust check keeps auth's own keys).
    for service, path in (("enrolment", "employees"), ("certs", "certificates")):
        status, body = await rig.call(service, "GET", f"/v1/practices/{P}/{path}", rig.admin_token)
        assert status == 200, body
    claims = jwt.decode(rig.admin_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(rig.admin_token)
    assert claims["rg"] == 1

    _, attacker_trust_public = generate_trust_key()
    attacker_trust = TrustSigner(generate_trust_key()[0])
    assert attacker_trust.public != attacker_trust_public
    unsigned_kid, wrongly_signed_kid = f"a-{uuid.uuid4().hex[:8]}", f"a-{uuid.uuid4().hex[:8]}"
    unsigned_private, unsigned_jwk = forged_key(unsigned_kid)
    wrong_private, wrong_jwk = forged_key(wrongly_signed_kid)
    await rig.produce("sts.keys", key_event(unsigned_kid, unsigned_jwk, None))
    await rig.produce("sts.keys", key_event(wrongly_signed_kid, wrong_jwk, attacker_trust))
    await wait_for(lambda: key_settled(rig, unsigned_kid))
    await wait_for(lambda: key_settled(rig, wrongly_signed_kid))

    accepted: dict[str, bool] = {}
    forgeries = (
        ("unsigned", unsigned_kid, unsigned_private),
        ("wrongly signed", wrongly_signed_kid, wrong_private),
    )
    for label, kid, private in forgeries:
        # The attacker copies a real admin token (header and claims) and signs it with its key.
        forged = jwt.encode(claims, private, algorithm="EdDSA", headers={**header, "kid": kid})
        for endpoint, ok in (await forged_calls(rig, forged)).items():
            accepted[f"{label}: {endpoint}"] = ok
    taken = [name for name, ok in accepted.items() if ok]
    assert not taken, f"forged admin token accepted by {len(taken)} of {len(accepted)}: {taken}"

    for service in rig.zones:
        stored = await rig.pool(service).fetchval(
            "SELECT count(*) FROM public_keys WHERE kid = ANY($1::text[])",
            [unsigned_kid, wrongly_signed_kid],
        )
        assert stored == 0, f"{service} kept {stored} forged keys"
        reasons = [
            r["reason"]
            for r in await rig.pool(service).fetch(
                "SELECT reason FROM dead_letters WHERE topic = $1", rig.topic("sts.keys")
            )
        ]
        assert len(reasons) == 2 and all("trust key" in r for r in reasons), (service, reasons)
    # Every consumer announces its dead letters, with the reason, on the dead-letter topic.
    dead = await rig.dead_letters_on_topic("sts.keys", 6)
    assert {e["data"]["consumer"] for e in dead} == set(rig.zones), dead
    assert all("trust key" in e["data"]["reason"] for e in dead), dead


# -- (c) directory.employees --------------------------------------------------------------------


async def rights_groups(rig: Rig, employee: str) -> dict[str, int | None]:
    return {
        service: await rig.pool(service).fetchval(
            "SELECT rights_group FROM employees WHERE practice = $1 AND id = $2", P, employee
        )
        for service in rig.zones
    }


async def test_host_system_cannot_make_an_administrator(rig: Rig) -> None:
    status, body = await rig.call(
        "enrolment",
        "PUT",
        f"/v1/practices/{P}/employees/piet",
        rig.admin_token,
        {"username": "piet", "name": "Piet de Vries", "rights_group": 2},
    )
    assert status == 200, body

    async def piet_everywhere() -> bool:
        return all(rg == 2 for rg in (await rights_groups(rig, "piet")).values())

    await wait_for(piet_everywhere)
    # The host system raises Piet to rights group 1 and creates a new rights-group-1 employee.
    await rig.produce("directory.employees", host_employee("piet", 5, 1))
    await rig.produce("directory.employees", host_employee("mallory", 1, 1))
    # A harmless host upsert after them, on the same partitions, shows they were consumed.
    await rig.produce("directory.employees", host_employee("hanna", 1, 2))

    async def consumed() -> bool:
        return all(rg == 2 for rg in (await rights_groups(rig, "hanna")).values())

    await wait_for(consumed)
    piet, mallory = await rights_groups(rig, "piet"), await rights_groups(rig, "mallory")
    raised = [s for s, rg in piet.items() if rg == 1] + [s for s, rg in mallory.items() if rg]
    assert not raised, f"host system made an administrator in {raised}: {piet} {mallory}"
    for service in rig.zones:
        reasons = [
            r["reason"]
            for r in await rig.pool(service).fetch(
                "SELECT reason FROM dead_letters WHERE topic = $1",
                rig.topic("directory.employees"),
            )
        ]
        assert len(reasons) == 2 and all("rights group 1" in r for r in reasons), reasons
    dead = await rig.dead_letters_on_topic("directory.employees", 6)
    assert {e["data"]["consumer"] for e in dead} == set(rig.zones), dead

    # The same promotion by the practice administrator through enrolment works everywhere.
    status, body = await rig.call(
        "enrolment",
        "PUT",
        f"/v1/practices/{P}/employees/piet",
        rig.admin_token,
        {"rights_group": 1},
    )
    assert status == 200 and body["rights_group"] == 1, body

    async def promoted() -> bool:
        return all(rg == 1 for rg in (await rights_groups(rig, "piet")).values())

    await wait_for(promoted)
    events = await read_topic(
        rig.cluster.broker.bootstrap,
        rig.topic("directory.employees"),
        lambda es: any(e["source"] == "enrolment@a" and e["data"]["rights_group"] == 1 for e in es),
    )
    assert all(isinstance(e["data"].get("tag"), str) for e in events if e["source"] != "his@a"), (
        json.dumps(events)[:500]
    )


# -- keys kept before the trust key -------------------------------------------------------------


@pytest.mark.parametrize("service", ["auth", "enrolment", "certs"])
async def test_keys_kept_before_the_trust_key_are_forgotten_by_the_upgrade(
    cluster: Cluster, tmp_path: Path, service: str
) -> None:
    """A key accepted unsigned before the upgrade (maybe a forger's) verifies nothing after."""
    spec = SERVICES[service]
    settings = cluster.settings("a", service)
    await ensure_database(settings.database_url)
    before = tmp_path / "before"
    before.mkdir()
    for file in sorted(spec.migrations.folder.glob("*.sql")):
        if "trusted_public_keys" in file.name:
            break
        shutil.copy(file, before / file.name)
    await migrate(settings.database_url, spec.name, Migrations(before, spec.migrations.parts))
    _, jwk = forged_key("a-20250101-0badbeef")
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "INSERT INTO public_keys (kid, zone, jwk, created_at) VALUES ($1, 'a', $2, now())",
            jwk["kid"],
            json.dumps(jwk),
        )
        applied = await migrate(settings.database_url, spec.name, spec.migrations)
        assert any("trusted_public_keys" in name for name in applied), applied
        assert await conn.fetchval("SELECT count(*) FROM public_keys") == 0
    finally:
        await conn.close()


async def test_a_replayed_signed_announcement_cannot_bring_a_retired_key_back(rig: Rig) -> None:
    """Genuine announcements stay on the compacted topic: replaying an older one (not yet
    retired) after the retirement must not put the key back into service."""
    trust = TrustSigner(TRUST_PRIVATE)
    kid = f"a-{uuid.uuid4().hex[:8]}"
    _, jwk = forged_key(kid)
    announced = key_event(kid, jwk, trust)
    retired = Envelope(
        type=announced.type,
        source=announced.source,
        practice="*",
        subject=kid,
        data=trust.sign({**announced.data, "retire_at": "2026-01-01T00:00:00Z"}),
    )
    replayed = announced.model_copy(update={"id": uuid.uuid4()})
    for event in (announced, retired, replayed):
        await rig.produce("sts.keys", event)

    async def consumed() -> bool:
        ids = [e.id for e in (announced, retired, replayed)]
        return all([await applied(rig.pool(service), ids) for service in rig.zones])

    await wait_for(consumed)
    for service in rig.zones:
        retire_at = await rig.pool(service).fetchval(
            "SELECT retire_at FROM public_keys WHERE kid = $1", kid
        )
        assert retire_at is not None, f"{service}: the replay brought the retired key back"
