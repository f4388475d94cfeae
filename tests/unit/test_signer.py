"""Ed25519 token signing, verification and key rotation (services.auth.adapters.signer).

The signature is checked with ``cryptography`` directly, not with PyJWT, so that a mistake in
how the signer uses PyJWT cannot hide behind the same library on both sides.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.auth.adapters.signer import ALGORITHM, InvalidToken, Signer, SigningKey
from tests.support.signing import AUDIENCE, ISSUER, claims

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signer_with(*keys: SigningKey) -> Signer:
    signer = Signer()
    signer.set_signing_keys(list(keys))
    signer.set_public_keys([k.public_jwk() for k in keys])
    return signer


def test_signature_verifies_with_cryptography_from_the_jwk() -> None:
    key = SigningKey.generate("a", T0)
    token = signer_with(key).sign(claims(), datetime.now(UTC))

    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64d(header_b64))
    assert header["alg"] == ALGORITHM == "EdDSA"
    assert header["kid"] == key.kid
    assert json.loads(b64d(payload_b64))["sub"] == "emp-1"

    jwk = key.public_jwk()
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["kid"] == key.kid
    assert jwk["alg"] == "EdDSA" and jwk["use"] == "sig"
    assert "d" not in jwk  # no private part in the published key
    raw = b64d(jwk["x"])
    assert len(raw) == 32
    public = Ed25519PublicKey.from_public_bytes(raw)
    signature = b64d(signature_b64)
    assert len(signature) == 64
    signed = f"{header_b64}.{payload_b64}".encode()
    public.verify(signature, signed)  # raises InvalidSignature if wrong

    with pytest.raises(InvalidSignature):
        public.verify(signature, signed + b"x")
    other = SigningKey.generate("b", T0).public_jwk()
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(b64d(other["x"])).verify(signature, signed)


def test_kid_names_the_zone() -> None:
    key = SigningKey.generate("b", T0)
    assert key.kid.startswith("b-20260301-")
    assert key.kid != SigningKey.generate("b", T0).kid


def test_private_bytes_round_trip() -> None:
    key = SigningKey.generate("a", T0)
    raw = key.private_bytes()
    assert len(raw) == 32
    restored = SigningKey.from_private_bytes(key.kid, raw, key.not_before)
    assert restored.public_jwk() == key.public_jwk()
    token = signer_with(restored).sign(claims(), datetime.now(UTC))
    assert signer_with(key).signed_claims(token, ISSUER, AUDIENCE, leeway=0)["sub"] == "emp-1"


def test_verify_accepts_a_good_token() -> None:
    signer = signer_with(SigningKey.generate("a", T0))
    token = signer.sign(claims(), datetime.now(UTC))
    verified = signer.signed_claims(token, ISSUER, AUDIENCE, leeway=30)
    assert verified["sub"] == "emp-1" and verified["practice"] == "fysio"


def test_verify_accepts_a_token_of_the_other_zone_by_its_public_key() -> None:
    key_a, key_b = SigningKey.generate("a", T0), SigningKey.generate("b", T0)
    zone_a = signer_with(key_a)
    zone_b = Signer()
    zone_b.set_signing_keys([key_b])
    zone_b.set_public_keys([key_b.public_jwk()])
    token = zone_a.sign(claims(), datetime.now(UTC))
    assert not zone_b.knows(key_a.kid)
    with pytest.raises(InvalidToken):
        zone_b.signed_claims(token, ISSUER, AUDIENCE, leeway=0)
    zone_b.add_public_key(key_a.public_jwk())
    assert zone_b.knows(key_a.kid) and zone_b.knows(key_b.kid)
    assert zone_b.signed_claims(token, ISSUER, AUDIENCE, leeway=0)["sid"] == "s" * 32


def test_verify_rejects_an_unknown_key() -> None:
    known = signer_with(SigningKey.generate("a", T0))
    stranger = signer_with(SigningKey.generate("a", T0))
    token = stranger.sign(claims(), datetime.now(UTC))
    with pytest.raises(InvalidToken, match="unknown signing key"):
        known.signed_claims(token, ISSUER, AUDIENCE, leeway=30)


def test_verify_rejects_a_known_kid_with_a_foreign_signature() -> None:
    key = SigningKey.generate("a", T0)
    forger = SigningKey(key.kid, SigningKey.generate("a", T0).private, T0)
    token = signer_with(forger).sign(claims(), datetime.now(UTC))
    with pytest.raises(InvalidToken):
        signer_with(key).signed_claims(token, ISSUER, AUDIENCE, leeway=30)


def test_verify_rejects_a_tampered_payload() -> None:
    signer = signer_with(SigningKey.generate("a", T0))
    token = signer.sign(claims(), datetime.now(UTC))
    header, payload, signature = token.split(".")
    data = json.loads(b64d(payload))
    data["practice"] = "other-practice"
    forged = f"{header}.{b64e(json.dumps(data).encode())}.{signature}"
    with pytest.raises(InvalidToken):
        signer.signed_claims(forged, ISSUER, AUDIENCE, leeway=30)


def test_verify_rejects_unsigned_and_malformed_tokens() -> None:
    key = SigningKey.generate("a", T0)
    signer = signer_with(key)
    header = b64e(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
    payload = b64e(json.dumps(claims()).encode())
    with pytest.raises(InvalidToken):
        signer.signed_claims(f"{header}.{payload}.", ISSUER, AUDIENCE, leeway=30)
    with pytest.raises(InvalidToken):
        signer.signed_claims("not-a-token", ISSUER, AUDIENCE, leeway=30)
    no_kid = b64e(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
    with pytest.raises(InvalidToken, match="no key id"):
        signer.signed_claims(f"{no_kid}.{payload}.AAAA", ISSUER, AUDIENCE, leeway=30)


def test_verify_rejects_an_expired_token_beyond_leeway() -> None:
    signer = signer_with(SigningKey.generate("a", T0))
    now = int(time.time())
    expired = signer.sign(claims(iat=now - 3600, exp=now - 60), datetime.now(UTC))
    with pytest.raises(InvalidToken):
        signer.signed_claims(expired, ISSUER, AUDIENCE, leeway=30)
    # Within the leeway the same kind of token is still accepted.
    recent = signer.sign(claims(iat=now - 3600, exp=now - 10), datetime.now(UTC))
    assert signer.signed_claims(recent, ISSUER, AUDIENCE, leeway=30)["sub"] == "emp-1"
    with pytest.raises(InvalidToken):
        signer.signed_claims(recent, ISSUER, AUDIENCE, leeway=0)


def test_verify_rejects_the_wrong_issuer() -> None:
    signer = signer_with(SigningKey.generate("a", T0))
    token = signer.sign(claims(iss="https://elders.example"), datetime.now(UTC))
    with pytest.raises(InvalidToken):
        signer.signed_claims(token, ISSUER, AUDIENCE, leeway=30)


def test_verify_rejects_another_audience() -> None:
    signer = signer_with(SigningKey.generate("a", T0))
    token = signer.sign(claims(aud="https://elders.example"), datetime.now(UTC))
    with pytest.raises(InvalidToken):
        signer.signed_claims(token, ISSUER, AUDIENCE, leeway=30)
    both = signer.sign(claims(aud=["https://elders.example", AUDIENCE]), datetime.now(UTC))
    assert signer.signed_claims(both, ISSUER, AUDIENCE, leeway=30)["sub"] == "emp-1"


def test_tokens_are_typed_at_jwt_and_other_types_are_refused() -> None:
    key = SigningKey.generate("a", T0)
    signer = signer_with(key)
    token = signer.sign(claims(), datetime.now(UTC))
    assert json.loads(b64d(token.split(".")[0]))["typ"] == "at+jwt"
    plain = jwt.encode(claims(), key.private, algorithm="EdDSA", headers={"kid": key.kid})
    with pytest.raises(InvalidToken):
        signer.signed_claims(plain, ISSUER, AUDIENCE, leeway=30)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "sid", "iss", "aud"])
def test_verify_requires_the_core_claims(missing: str) -> None:
    signer = signer_with(SigningKey.generate("a", T0))
    token_claims = claims()
    del token_claims[missing]
    token = signer.sign(token_claims, datetime.now(UTC))
    with pytest.raises(InvalidToken):
        signer.signed_claims(token, ISSUER, AUDIENCE, leeway=30)


def test_current_picks_the_newest_key_whose_not_before_has_passed() -> None:
    old = SigningKey.generate("a", T0)
    new = SigningKey.generate("a", T0 + timedelta(days=30))
    # Given in any order.
    signer = signer_with(new, old)
    # Published ahead of its not_before (the rotation lead): not yet signing.
    assert signer.current(T0 + timedelta(days=30) - timedelta(minutes=5)).kid == old.kid
    assert signer.current(T0 + timedelta(days=30)).kid == new.kid
    assert signer.current(T0 + timedelta(days=45)).kid == new.kid
    token = signer.sign(claims(), T0 + timedelta(days=29))
    assert json.loads(b64d(token.split(".")[0]))["kid"] == old.kid
    token = signer.sign(claims(), T0 + timedelta(days=31))
    assert json.loads(b64d(token.split(".")[0]))["kid"] == new.kid
    # Tokens of the old key keep verifying after the rotation.
    assert (
        signer.signed_claims(signer.sign(claims(), T0), ISSUER, AUDIENCE, leeway=0)["sub"]
        == "emp-1"
    )


def test_current_before_any_not_before_uses_the_oldest_key() -> None:
    first = SigningKey.generate("a", T0 + timedelta(days=1))
    second = SigningKey.generate("a", T0 + timedelta(days=2))
    assert signer_with(second, first).current(T0).kid == first.kid


def test_current_without_keys_fails() -> None:
    with pytest.raises(RuntimeError):
        Signer().current(T0)


def test_set_public_keys_replaces_the_known_keys() -> None:
    a, b = SigningKey.generate("a", T0), SigningKey.generate("b", T0)
    signer = Signer()
    signer.set_public_keys([a.public_jwk()])
    signer.set_public_keys([b.public_jwk()])
    assert signer.knows(b.kid) and not signer.knows(a.kid)
