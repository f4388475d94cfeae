"""Per-zone RSA keys beside the Ed25519 ones (ADR 0011): made, sealed, announced with the trust
key's signature, kept by every consumer, served in both zones' JWKS, rotated and retired like
the Ed25519 keys; RS256 ID tokens of one zone verify with the other zone's JWKS in an
independent library (joserfc); forged RSA keys are dead-lettered; an RS256 access token is
refused even from a trusted key.

Real auth (both zones), enrolment and certs, the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
import warnings
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from jwt.algorithms import RSAAlgorithm

from services.auth.adapters.signer import SigningKey
from services.registry import SERVICES
from shared.db import Migrations, ensure_database, migrate
from shared.events import utcnow
from shared.tokens import ID_TOKEN_TYPE, LOGOUT_TOKEN_TYPE, InvalidToken, UnknownKey
from shared.trust import TrustSigner
from shared.trust import generate as generate_trust_key
from tests.support.cluster import KEYRING, TRUST_PRIVATE, Cluster, Zone, wait_for
from tests.support.forgery import forged_calls, key_event, key_settled, token_refused
from tests.support.services import P, Rig, rig

#: The fixture of tests.support.services (imported so that pytest finds it here).
FIXTURES = (rig,)
CLIENT = "huisartsportaal"


def id_claims(zone: Zone, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": zone.settings.issuer,
        "sub": "emp-1",
        "aud": CLIENT,
        "iat": now,
        "exp": now + 300,
        "auth_time": now,
        "nonce": uuid.uuid4().hex,
        **extra,
    }


async def jwks_of(zone: Zone) -> dict[str, Any]:
    response = await zone.client.get("/.well-known/jwks.json")
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def stored_keys(zone: Zone) -> dict[str, dict[str, Any]]:
    rows = await zone.auth.pool.fetch("SELECT kid, alg, not_before, retire_at FROM signing_keys")
    return {r["kid"]: dict(r) for r in rows}


def verify_independently(token: str, jwks: dict[str, Any], issuer: str, alg: str) -> Any:
    """The relying party's check, with joserfc (no code shared with the signer's PyJWT)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc calls EdDSA deprecated (RFC 9864)
        keys = KeySet.import_key_set(KeySetSerialization(keys=jwks["keys"]))
        decoded = jose_jwt.decode(token, keys, algorithms=[alg])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": CLIENT},
        exp={"essential": True},
        nonce={"essential": True},
    ).validate(decoded.claims)
    return decoded


# -- both zones ----------------------------------------------------------------------------------


async def test_zone_b_trusts_zone_a_rsa_key_and_a_relying_party_verifies_its_id_token(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await cluster.start("a"), await cluster.start("b")
    now = utcnow()
    rsa_kid = a.auth.signer.current(now, "RS256").kid
    ed_kid = a.auth.signer.current(now).kid
    assert rsa_kid.startswith("a-") and rsa_kid != ed_kid
    assert {k: r["alg"] for k, r in (await stored_keys(a)).items()} == {
        ed_kid: "EdDSA",
        rsa_kid: "RS256",
    }

    async def both_zones_serve_four_keys() -> list[dict[str, Any]]:
        served = [await jwks_of(zone) for zone in (a, b)]
        kids = [{k["kid"] for k in jwks["keys"]} for jwks in served]
        return served if kids[0] == kids[1] and len(kids[0]) == 4 else []

    served = await wait_for(both_zones_serve_four_keys)
    for jwks in served:
        assert sorted((k["kid"][0], k["kty"], k["alg"]) for k in jwks["keys"]) == [
            ("a", "OKP", "EdDSA"),
            ("a", "RSA", "RS256"),
            ("b", "OKP", "EdDSA"),
            ("b", "RSA", "RS256"),
        ]
    from_b = next(k for k in served[1]["keys"] if k["kid"] == rsa_kid)
    assert from_b == a.auth.signer.current(now, "RS256").public_jwk()
    assert set(from_b) == {"kty", "n", "e", "kid", "use", "alg"} and from_b["use"] == "sig"
    assert b.auth.signer.knows(rsa_kid), "zone b's verifier took the key from sts.keys"

    # An ID token signed RS256 in zone a: a relying party verifies it with zone b's JWKS.
    claims = id_claims(a, sid="s" * 32, acr="aal2", amr=["pwd", "otp"], practice=P)
    id_token = a.auth.signer.sign_jwt(claims, utcnow(), alg="RS256", typ=ID_TOKEN_TYPE)
    decoded = verify_independently(id_token, served[1], a.settings.issuer, "RS256")
    assert decoded.header == {"alg": "RS256", "kid": rsa_kid, "typ": "JWT"}
    assert decoded.claims["nonce"] == claims["nonce"]
    with pytest.raises(JoseError):  # the JWKS of a stranger does not verify it
        stranger = SigningKey.generate("a", now, "RS256").public_jwk()
        verify_independently(id_token, {"keys": [{**stranger, "kid": rsa_kid}]}, "x", "RS256")
    # EdDSA on request, verified the same way; zone b's own verifier takes both.
    ed_token = a.auth.signer.sign_jwt(id_claims(a), utcnow(), alg="EdDSA", typ=ID_TOKEN_TYPE)
    assert verify_independently(ed_token, served[1], a.settings.issuer, "EdDSA").header["kid"] == (
        ed_kid
    )
    issuer, leeway = b.settings.issuer, b.settings.leeway_seconds
    assert b.auth.signer.signed_jwt(id_token, ID_TOKEN_TYPE, issuer, CLIENT, leeway)["sid"]
    logout = a.auth.signer.sign_jwt(id_claims(a), utcnow(), alg="RS256", typ=LOGOUT_TOKEN_TYPE)
    assert b.auth.signer.signed_jwt(logout, LOGOUT_TOKEN_TYPE, issuer, CLIENT, leeway)

    # Start-up and maintenance make a key only when one is due: with both keys current, a
    # restart and a rotation check generate nothing (an RSA key costs 50-200 ms).
    def no_new_keys(*args: Any, **kwargs: Any) -> SigningKey:
        raise AssertionError("a key was generated although none was due")

    monkeypatch.setattr(SigningKey, "generate", no_new_keys)
    again = await cluster.start("a")
    await again.use_cases.keys.rotate_if_due()
    assert set(await stored_keys(a)) == {ed_kid, rsa_kid}
    assert again.auth.signer.current(utcnow(), "RS256").kid == rsa_kid


async def test_rsa_keys_rotate_and_retire_like_the_ed25519_keys(cluster: Cluster) -> None:
    a = await cluster.start("a", key_publish_lead_seconds=0)
    b = await cluster.start("b")
    now = utcnow()
    old_kid, ed_kid = a.auth.signer.current(now, "RS256").kid, a.auth.signer.current(now).kid
    old_token = a.auth.signer.sign_jwt(id_claims(a), now, alg="RS256", typ=ID_TOKEN_TYPE)

    await a.auth.pool.execute(
        "UPDATE signing_keys SET not_before = now() - interval '31 days' WHERE alg = 'RS256'"
    )
    await a.use_cases.keys.rotate_if_due()
    keys = await stored_keys(a)
    new_kid = a.auth.signer.current(utcnow(), "RS256").kid
    assert new_kid != old_kid and keys[new_kid]["alg"] == "RS256"
    assert keys[ed_kid]["retire_at"] is None, "the Ed25519 key was not due"
    assert a.auth.signer.current(utcnow()).kid == ed_kid
    old_retires = keys[old_kid]["retire_at"]
    assert old_retires >= utcnow() + timedelta(hours=23), "kept until its tokens have expired"
    new_token = a.auth.signer.sign_jwt(id_claims(a), utcnow(), alg="RS256", typ=ID_TOKEN_TYPE)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid

    async def b_knows_the_rotation() -> bool:
        row = await b.auth.pool.fetchrow(
            "SELECT retire_at FROM public_keys WHERE kid = $1", old_kid
        )
        return row is not None and row["retire_at"] == old_retires and b.auth.signer.knows(new_kid)

    await wait_for(b_knows_the_rotation)
    jwks = await jwks_of(b)
    assert {old_kid, new_kid} <= {k["kid"] for k in jwks["keys"]}
    for token in (old_token, new_token):
        verify_independently(token, jwks, a.settings.issuer, "RS256")
        b.auth.signer.signed_jwt(token, ID_TOKEN_TYPE, a.settings.issuer, CLIENT, 0)

    # Its retirement comes: announced earlier (a retirement only moves earlier), the old RSA
    # key is forgotten at its retire_at by zone b's verifier without a reload, and leaves
    # both JWKS.
    retire_at = await a.auth.pool.fetchval(
        "UPDATE signing_keys SET retire_at = now() + interval '6 seconds' WHERE kid = $1 "
        "RETURNING retire_at",
        old_kid,
    )
    async with a.auth.pool.acquire() as conn, conn.transaction():
        await a.use_cases.keys.keystore.publish_all(conn, utcnow())

    async def b_has_the_earlier_retirement() -> bool:
        stored = await b.auth.pool.fetchval(
            "SELECT retire_at FROM public_keys WHERE kid = $1", old_kid
        )
        return bool(stored == retire_at)

    await wait_for(b_has_the_earlier_retirement)
    assert utcnow() < retire_at - timedelta(seconds=1), "the retirement settled too slowly"
    b.auth.signer.signed_jwt(old_token, ID_TOKEN_TYPE, a.settings.issuer, CLIENT, 0)
    await asyncio.sleep((retire_at - utcnow()).total_seconds() + 0.1)
    with pytest.raises(UnknownKey):
        b.auth.signer.signed_jwt(old_token, ID_TOKEN_TYPE, a.settings.issuer, CLIENT, 0)
    assert b.auth.signer.signed_jwt(new_token, ID_TOKEN_TYPE, a.settings.issuer, CLIENT, 0)
    for zone in (a, b):
        served = {k["kid"] for k in (await jwks_of(zone))["keys"]}
        assert old_kid not in served and new_kid in served, (zone.settings.zone, served)
    async with a.auth.pool.acquire() as conn:
        live = await a.use_cases.keys.keystore.signing_keys(conn, utcnow())
    assert {k.kid for k in live} == {ed_kid, new_kid}, "zone a signs with the retired key no more"


# -- forged and misused keys ---------------------------------------------------------------------


def rsa_jwk(kid: str, bits: int = 2048) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    private = rsa.generate_private_key(65537, bits)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.pop("key_ops", None)
    return private, {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


async def test_forged_rsa_keys_are_dead_lettered_and_verify_nothing(rig: Rig) -> None:
    attacker_trust = TrustSigner(generate_trust_key()[0])
    trust = TrustSigner(TRUST_PRIVATE)
    kids = {
        "unsigned": f"a-{uuid.uuid4().hex[:8]}",
        "wrongly signed": f"a-{uuid.uuid4().hex[:8]}",
        "1024 bits": f"a-{uuid.uuid4().hex[:8]}",
    }
    privates: dict[str, rsa.RSAPrivateKey] = {}
    for label, signer, bits in (
        ("unsigned", None, 2048),
        ("wrongly signed", attacker_trust, 2048),
        ("1024 bits", trust, 1024),  # signed by the real trust key, but not a key auth makes
    ):
        privates[label], jwk = rsa_jwk(kids[label], bits)
        await rig.produce("sts.keys", key_event(kids[label], jwk, signer))
    for kid in kids.values():
        await wait_for(partial(key_settled, rig, kid))

    claims = jwt.decode(rig.admin_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(rig.admin_token)
    issuer = rig.auth.settings.issuer
    accepted = []
    for label, kid in kids.items():
        forged = jwt.encode(
            claims,
            privates[label],
            algorithm="RS256",
            headers={**header, "alg": "RS256", "kid": kid},
        )
        assert jwt.get_unverified_header(forged)["alg"] == "RS256"
        accepted += [f"{label}: {e}" for e, ok in (await forged_calls(rig, forged)).items() if ok]
        id_token = jwt.encode(
            {**claims, "aud": CLIENT}, privates[label], algorithm="RS256", headers={"kid": kid}
        )
        with pytest.raises(UnknownKey):
            rig.auth.auth.signer.signed_jwt(id_token, ID_TOKEN_TYPE, issuer, CLIENT, 0)
    assert not accepted, f"forged RS256 tokens accepted: {accepted}"

    for service in rig.zones:
        stored = await rig.pool(service).fetchval(
            "SELECT count(*) FROM public_keys WHERE kid = ANY($1::text[])", list(kids.values())
        )
        assert stored == 0, f"{service} kept {stored} forged keys"
        reasons = sorted(
            r["reason"]
            for r in await rig.pool(service).fetch(
                "SELECT reason FROM dead_letters WHERE topic = $1", rig.topic("sts.keys")
            )
        )
        assert len(reasons) == 3, (service, reasons)
        assert sum("trust key" in r for r in reasons) == 2, (service, reasons)
        assert sum("2048 bits" in r for r in reasons) == 1, (service, reasons)
    dead = await rig.dead_letters_on_topic("sts.keys", 9)
    assert {e["data"]["consumer"] for e in dead} == set(rig.zones), dead


async def test_an_access_token_signed_rs256_by_a_trusted_key_is_refused(rig: Rig) -> None:
    signer = rig.auth.auth.signer
    rsa_key = signer.current(utcnow(), "RS256")
    ed_key = signer.current(utcnow())

    async def everyone_trusts_it() -> bool:
        for service in rig.zones:
            if not await rig.pool(service).fetchval(
                "SELECT 1 FROM public_keys WHERE kid = $1 AND retire_at IS NULL", rsa_key.kid
            ):
                return False
        return True

    await wait_for(everyone_trusts_it)
    claims = jwt.decode(rig.admin_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(rig.admin_token)
    # The administrator's real token (live session), only re-signed: EdDSA goes through.
    resigned = jwt.encode(
        claims, ed_key.private, algorithm="EdDSA", headers={**header, "kid": ed_key.kid}
    )
    for service, path in (("enrolment", "employees"), ("certs", "certificates")):
        status, body = await rig.call(service, "GET", f"/v1/practices/{P}/{path}", resigned)
        assert not token_refused(status, body), (service, status, body)
    # The same, RS256 with the zone's own trusted RSA key: refused by every service.
    rs256 = jwt.encode(
        claims,
        rsa_key.private,
        algorithm="RS256",
        headers={**header, "alg": "RS256", "kid": rsa_key.kid},
    )
    taken = [name for name, ok in (await forged_calls(rig, rs256)).items() if ok]
    assert not taken, f"an RS256 access token was accepted by {taken}"
    with pytest.raises(InvalidToken, match="only EdDSA"):
        signer.signed_claims(rs256, rig.auth.settings.issuer, rig.auth.settings.token_audience, 0)
    with pytest.raises(ValueError, match="access tokens"):
        signer.sign_jwt(claims, utcnow(), alg="RS256", typ="at+jwt")


# -- an old database -----------------------------------------------------------------------------


async def test_an_old_database_keeps_its_ed25519_key_and_gains_an_rsa_key(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Keys stored before migration 012 name no algorithm: they stay Ed25519 and current."""
    spec = SERVICES["auth"]
    settings = cluster.settings("a")
    await ensure_database(settings.database_url)
    before = tmp_path / "before"
    before.mkdir()
    for file in sorted(spec.migrations.folder.glob("*.sql")):
        if int(file.name[:3]) < 12:
            shutil.copy(file, before / file.name)
    await migrate(settings.database_url, spec.name, Migrations(before, spec.migrations.parts))
    old = SigningKey.generate("a", utcnow() - timedelta(days=1))
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "INSERT INTO signing_keys (kid, sealed, not_before, created_at) "
            "VALUES ($1, $2, $3, $3)",
            old.kid,
            KEYRING.seal(old.private_bytes(), f"signing-key:{old.kid}"),
            old.not_before,
        )
    finally:
        await conn.close()

    a = await cluster.start("a")
    keys = await stored_keys(a)
    assert keys[old.kid]["alg"] == "EdDSA" and keys[old.kid]["retire_at"] is None
    assert sorted(r["alg"] for r in keys.values()) == ["EdDSA", "RS256"]
    assert a.auth.signer.current(utcnow()).kid == old.kid, "the old key still signs"
    served = {k["kid"]: k for k in (await jwks_of(a))["keys"]}
    assert served[old.kid] == old.public_jwk()
    assert served[a.auth.signer.current(utcnow(), "RS256").kid]["kty"] == "RSA"
