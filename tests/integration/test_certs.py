"""The certificate store with auth in one zone (and a second zone where they must converge):
real PostgreSQL, the real broker. Certificates are made here with ``cryptography``; tokens come
from auth (the administrator's password login) or are signed with auth's own key."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.certs.adapters import directory
from services.certs.bootstrap import Certs
from services.certs.domain.rules import certificate_aad, expiry_request_id
from services.certs.http import CERTS
from services.dev import cards
from shared.events import EmployeeUpserted, PracticeUpserted, utcnow
from shared.http import RUNTIME
from tests.support.bus import read_topic
from tests.support.certificates import VECOZO, TestCA
from tests.support.cluster import ADMIN_PASSWORD, KEYRING, Cluster, Zone, login, slug, wait_for
from tests.support.tokens import knows_tokens_of, session_token

P = "fysio"
OTHER = "tandarts"
PRACTICE_EMAIL = "praktijk@fysio-jansen.nl"
PROBLEM = "application/problem+json"
CA = TestCA()
BASE = f"/v1/practices/{P}/certificates"


@dataclass
class Rig:
    cluster: Cluster
    auth: Zone
    certs: Zone
    admin: str
    admin_token: str

    @property
    def use_cases(self) -> Certs:
        return self.certs.app[CERTS]

    @property
    def pool(self) -> asyncpg.Pool:
        return self.certs.app[RUNTIME].pool

    def topic(self, name: str) -> str:
        return self.certs.app[RUNTIME].settings.topic(name)

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = "",
        body: Any = None,
        zone: Zone | None = None,
    ) -> tuple[int, Any]:
        token = self.admin_token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await (zone or self.certs).client.request(
            method, path, json=body, headers=headers
        )
        if response.status >= 400:
            assert response.content_type == PROBLEM, await response.text()
        return response.status, await response.json(content_type=None)

    def token(self, employee: str, practice: str = P, rights_group: int = 2) -> str:
        """A session token as auth issues it, signed with auth's key."""
        return session_token(self.auth, employee, practice=practice, rights_group=rights_group)

    async def employee(
        self, employee: str, practice: str = P, rights_group: int = 2, in_service: bool = True
    ) -> None:
        """An employee in the certs directory (as directory.employees would bring it)."""
        body = EmployeeUpserted(
            employee=employee,
            username=employee,
            name=employee.title(),
            rights_group=rights_group,
            in_service=in_service,
            version=100,
            updated_at=utcnow(),
            zone="a",
        )
        async with self.pool.acquire() as conn:
            await directory.upsert_employee(conn, practice, body)

    async def count(self) -> int:
        n: int = await self.pool.fetchval("SELECT count(*) FROM certificates")
        return n


async def _known(zone: Zone, auth: Zone, practice: str, employee: str) -> None:
    """Until certs in ``zone`` checks ``auth``'s tokens for the employee."""
    pool = zone.app[RUNTIME].pool
    await wait_for(functools.partial(knows_tokens_of, pool, auth, practice, employee))


@pytest.fixture
async def rig(cluster: Cluster) -> AsyncIterator[Rig]:
    auth = await cluster.start("a")
    certs = await cluster.start("a", "certs")
    admin = await cluster.bootstrap(auth)
    await _known(certs, auth, P, admin)
    status, body = await login(auth, P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    yield Rig(cluster, auth, certs, admin, body["token"]["token"])


async def test_import_pkcs12_uzi_and_pem_vecozo(rig: Rig) -> None:
    uzi = CA.uzi(serial_number=0x0A1B2C3D)
    status, body = await rig.call(
        "POST", BASE, body={"pkcs12": uzi.pkcs12("geheim"), "password": "geheim"}
    )
    assert status == 201, body
    assert body["kind"] == "uzi" and body["type"] == "personal"
    assert body["uzi"] == {
        "number": "900012345",
        "role": "30.015",
        "subscriber": "90000123",
        "agb": "12345678",
        "card_type": None,
        "ura": None,
    }
    assert body["agb_code"] == "12345678"
    assert body["serial_number"] == "0A1B2C3D" and body["serial_spaced"] == "0A 1B 2C 3D"
    assert body["subject"].startswith("CN=dr. A. Jansen") and "Test CA" in body["issuer"]
    assert body["key_type"] == "EC secp256r1" and body["key_size"] == 256
    assert body["has_key"] is True and body["version"] == 1
    assert "key_pem" not in body and "PRIVATE" not in str(body)
    nr = body["nr"]

    # The key is sealed at rest, bound to the practice and the certificate.
    sealed = await rig.pool.fetchval("SELECT sealed_key FROM certificates WHERE nr = $1", nr)
    assert "PRIVATE" not in sealed
    assert KEYRING.open(sealed, certificate_aad(P, nr)) == uzi.key_pem.encode()

    vecozo = VECOZO.issue(cn="Fysio Jansen", rsa_key=True)
    status, second = await rig.call("POST", BASE, body=vecozo.pem_body())
    assert status == 201, second
    assert second["kind"] == "vecozo" and second["uzi"] is None
    assert second["key_type"] == "RSA" and second["key_size"] == 2048

    status, listed = await rig.call("GET", BASE)
    assert status == 200 and {c["nr"] for c in listed["certificates"]} == {nr, second["nr"]}
    status, one = await rig.call("GET", f"{BASE}/{nr}")
    assert status == 200 and one == body
    status, missing = await rig.call("GET", f"{BASE}/nope")
    assert status == 404 and slug(missing) == "not-found"

    events = await read_topic(
        rig.cluster.broker.bootstrap, rig.topic("certs.events"), lambda e: len(e) >= 2
    )
    upserted = [e for e in events if e["type"] == "certificate.upserted"]
    assert {e["subject"] for e in upserted} == {nr, second["nr"]}
    assert all("BEGIN CERTIFICATE" in e["data"]["certificate_pem"] for e in upserted)
    assert all("PRIVATE" not in str(e) for e in events)


async def test_a_uzi_pas_shows_the_fields_of_its_subject_id(rig: Rig) -> None:
    """A card of the UZI profile (services/dev/cards.py): the subjectAltName's UZI subject ID
    and the permanentIdentifier's URA, as a card login reads them."""
    hierarchy = cards.hierarchy("Store", "http://127.0.0.1:9/ca.crl", "http://127.0.0.1:9/")
    card = hierarchy.card(cards.Card("900012345", "12345678", agb="01234567"))
    status, body = await rig.call(
        "POST", BASE, body={"pkcs12": cards.b64(card.pkcs12("geheim")), "password": "geheim"}
    )
    assert status == 201, body
    assert body["kind"] == "uzi"
    assert body["uzi"] == {
        "number": "900012345",
        "role": "01.015",
        "subscriber": "12345678",
        "agb": "01234567",
        "card_type": "Z",
        "ura": "12345678",
    }
    assert body["agb_code"] == "01234567"


async def test_refusals_store_nothing(rig: Rig) -> None:
    issued = CA.issue()
    cases = [
        ({"pkcs12": issued.pkcs12("geheim"), "password": "fout"}, 422, "wrong-password"),
        ({"pkcs12": "AAECAwQFBgcICQ==", "password": "x"}, 422, "unreadable-certificate"),
        ({"pkcs12": "not base64!", "password": "x"}, 422, "unreadable-certificate"),
        ({"certificate_pem": "garbage", "key_pem": "garbage"}, 422, "unreadable-certificate"),
        (
            {"certificate_pem": issued.cert_pem, "key_pem": CA.issue().key_pem},
            422,
            "key-mismatch",
        ),
        (CA.issue(start=timedelta(days=-30), days=10).pem_body(), 422, "certificate-expired"),
        (CA.issue(start=timedelta(days=3)).pem_body(), 422, "certificate-not-yet-valid"),
        (
            {"pkcs12": issued.pkcs12("x"), "certificate_pem": issued.cert_pem},
            422,
            "invalid-request",
        ),
    ]
    for body, status, expected in cases:
        got, problem = await rig.call("POST", BASE, body=body)
        assert (got, slug(problem)) == (status, expected), (expected, problem)
    assert await rig.count() == 0

    status, first = await rig.call(
        "POST", BASE, body={"pkcs12": issued.pkcs12("a"), "password": "a"}
    )
    assert status == 201
    status, dup = await rig.call("POST", BASE, body=issued.pem_body())
    assert status == 409 and slug(dup) == "duplicate-certificate" and dup["nr"] == first["nr"]
    assert await rig.count() == 1


async def test_configure_grant_entitlements_remove(rig: Rig) -> None:
    await rig.employee("piet")
    await rig.employee("anna")
    await rig.employee("oud", in_service=False)
    status, cert = await rig.call("POST", BASE, body=VECOZO.issue().pem_body())
    assert status == 201
    one = f"{BASE}/{cert['nr']}"

    status, bad = await rig.call("PATCH", one, body={"agb_code": "1234"})
    assert status == 422 and slug(bad) == "invalid-request"
    status, bad = await rig.call("PATCH", one, body={"type": "shared"})
    assert status == 422
    status, patched = await rig.call(
        "PATCH", one, body={"agb_code": "01234567", "services": ["vecozo", "lsp", "vecozo"]}
    )
    assert status == 200, patched
    assert patched["agb_code"] == "01234567" and patched["services"] == ["lsp", "vecozo"]
    assert patched["type"] == "personal" and patched["version"] == 2

    status, unknown = await rig.call("PUT", f"{one}/grants/nobody")
    assert status == 404 and slug(unknown) == "unknown-employee"
    status, granted = await rig.call("PUT", f"{one}/grants/piet")
    assert status == 200 and granted["grants"] == ["piet"] and granted["version"] == 3

    async def usable(employee: str, service: str | None = "vecozo") -> list[str]:
        query = f"?employee={employee}" + (f"&service={service}" if service else "")
        status, body = await rig.call("GET", f"/v1/practices/{P}/entitlements{query}")
        assert status == 200, body
        return [c["nr"] for c in body["certificates"]]

    assert await usable("piet") == [cert["nr"]]
    assert await usable("piet", None) == [cert["nr"]]
    assert await usable("piet", "zorgmail") == []
    assert await usable("anna") == []  # personal: only those granted

    status, public = await rig.call("PATCH", one, body={"type": "public"})
    assert status == 200 and public["type"] == "public"
    assert await usable("anna") == [cert["nr"]]  # public: every employee in service
    assert await usable("oud") == []
    status, nobody = await rig.call("GET", f"/v1/practices/{P}/entitlements?employee=nobody")
    assert status == 404 and slug(nobody) == "unknown-employee"

    status, revoked = await rig.call("DELETE", f"{one}/grants/piet")
    assert status == 200 and revoked["grants"] == []
    status, removed = await rig.call("DELETE", one)
    assert status == 200 and removed == {"nr": cert["nr"], "removed": True}
    status, _ = await rig.call("GET", one)
    assert status == 404
    status, listed = await rig.call("GET", BASE)
    assert listed["certificates"] == []
    row = await rig.pool.fetchrow("SELECT * FROM certificates WHERE nr = $1", cert["nr"])
    assert row["removed"] and row["sealed_key"] is None and row["version"] == 6

    events = await read_topic(
        rig.cluster.broker.bootstrap, rig.topic("certs.events"), lambda e: len(e) >= 6
    )
    versions = [e["data"]["version"] for e in events if e["subject"] == cert["nr"]]
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    assert max(events, key=lambda e: e["data"]["version"])["data"]["removed"] is True


async def test_tenant_isolation(rig: Rig) -> None:
    status, cert = await rig.call("POST", BASE, body=CA.issue().pem_body())
    assert status == 201
    one = f"{BASE}/{cert['nr']}"
    await rig.employee("piet")
    other_admin = "beheer"
    await rig.employee(other_admin, practice=OTHER, rights_group=1)
    foreign = rig.token(other_admin, OTHER, rights_group=1)
    employee = rig.token("piet")
    # A token that claims rights group 1 for an employee of group 2: the directory decides.
    claims_admin = rig.token("piet", rights_group=1)

    attempts: list[tuple[str, str, Any]] = [
        ("GET", BASE, None),
        ("GET", one, None),
        ("POST", BASE, CA.issue().pem_body()),
        ("PATCH", one, {"type": "public"}),
        ("PUT", f"{one}/grants/piet", None),
        ("DELETE", f"{one}/grants/piet", None),
        ("DELETE", one, None),
        ("GET", f"/v1/practices/{P}/entitlements?employee=piet", None),
    ]
    for token in (foreign, employee, claims_admin):
        for method, path, body in attempts:
            status, problem = await rig.call(method, path, token, body)
            assert status == 403 and slug(problem) == "forbidden", (method, path, problem)
    for method, path, body in attempts:
        status, problem = await rig.call(method, path, None, body)
        assert status == 401
    # The other practice's administrator sees nothing of this one in their own practice.
    status, theirs = await rig.call("GET", f"/v1/practices/{OTHER}/certificates", foreign)
    assert status == 200 and theirs["certificates"] == []
    for method in ("GET", "DELETE"):
        status, nothing = await rig.call(
            method, f"/v1/practices/{OTHER}/certificates/{cert['nr']}", foreign
        )
        assert status == 404 and slug(nothing) == "not-found"

    status, same = await rig.call("GET", one)
    assert status == 200 and same == cert and await rig.count() == 1


async def test_expiry_notices(rig: Rig) -> None:
    practice = PracticeUpserted(
        name="Fysio Jansen", email=PRACTICE_EMAIL, version=100, updated_at=utcnow(), zone="a"
    )
    async with rig.pool.acquire() as conn:
        await directory.upsert_practice(conn, P, practice)
    status, cert = await rig.call(
        "POST",
        BASE,
        body=CA.issue(start=timedelta(days=-1), days=6, serial_number=0xBEEF).pem_body(),
    )
    assert status == 201
    nr = cert["nr"]
    now = utcnow()
    assert await rig.use_cases.expiry.check(now) == 1  # 5 days left: the 7-day notice
    assert await rig.use_cases.expiry.check(now + timedelta(hours=1)) == 0  # once
    assert await rig.use_cases.expiry.check(now + timedelta(days=4, hours=12)) == 1  # the 1-day one
    assert await rig.use_cases.expiry.check(now + timedelta(days=6)) == 1  # expired
    assert await rig.use_cases.expiry.check(now + timedelta(days=7)) == 0

    requests = await read_topic(
        rig.cluster.broker.bootstrap, rig.topic("notify.requests"), lambda e: len(e) >= 3
    )
    assert [uuid.UUID(r["id"]) for r in requests] == [
        expiry_request_id(P, nr, t) for t in (7, 1, 0)
    ]
    first = requests[0]["data"]
    assert first["template"] == "certificate_expiry" and first["recipient"] == PRACTICE_EMAIL
    assert first["parameters"]["serial"] == "BE EF"
    assert first["parameters"]["days_left"] == 5
    assert first["parameters"]["practice_name"] == "Fysio Jansen"
    assert [r["data"]["parameters"]["days_left"] for r in requests] == [5, 1, 0]

    events = await read_topic(
        rig.cluster.broker.bootstrap,
        rig.topic("certs.events"),
        lambda e: len([x for x in e if x["type"] != "certificate.upserted"]) >= 3,
    )
    # Each expiry event has its own key, so partition order says nothing: sort by threshold.
    expiry = sorted(
        (e for e in events if e["type"] != "certificate.upserted"),
        key=lambda e: -int(e["data"]["threshold_days"]),
    )
    assert [(e["type"], e["data"]["threshold_days"]) for e in expiry] == [
        ("certificate.expiring", 7),
        ("certificate.expiring", 1),
        ("certificate.expired", 0),
    ]
    # Keys of their own: on the compacted topic they never replace the certificate's state.
    assert all(e["subject"].startswith(f"{e['data']['nr']}:expiry:") for e in expiry)

    response = await rig.certs.ops.get("/metrics")
    text = await response.text()
    line = next(
        x for x in text.splitlines() if x.startswith("tweestap_certificate_expiry_timestamp")
    )
    assert f'nr="{nr}",practice="{P}"' in line
    expires = float(line.rsplit(" ", 1)[1])
    assert abs(expires - datetime.fromisoformat(cert["not_after"]).timestamp()) < 1


async def test_zones_converge(rig: Rig) -> None:
    other = await rig.cluster.start("b", "certs")
    await _known(other, rig.auth, P, rig.admin)
    status, cert = await rig.call("POST", BASE, body=CA.uzi().pem_body())
    assert status == 201
    one = f"{BASE}/{cert['nr']}"

    async def in_b(version: int) -> Any:
        status, body = await rig.call("GET", one, zone=other)
        return body if status == 200 and body["version"] == version else None

    seen = await wait_for(lambda: in_b(1))
    assert seen["has_key"] is False  # the key never leaves the zone that imported it
    assert seen["fingerprint"] == cert["fingerprint"] and seen["uzi"] == cert["uzi"]

    status, patched = await rig.call("PATCH", one, body={"services": ["lsp"]}, zone=other)
    assert status == 200 and patched["version"] == 2

    async def in_a() -> Any:
        status, body = await rig.call("GET", one)
        return body if status == 200 and body["version"] == 2 else None

    back = await wait_for(in_a)
    assert back["services"] == ["lsp"] and back["has_key"] is True  # the key stays
