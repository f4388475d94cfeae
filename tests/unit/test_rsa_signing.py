"""RS256 beside EdDSA (ADR 0011): a zone's RSA key, ID and logout tokens signed with the
algorithm asked for (``Signer.sign_jwt``), verified with ``TokenVerifier.signed_jwt``; access
tokens stay EdDSA, and a token is checked only with its key's own algorithm.

RS256 signatures are checked with ``cryptography`` directly, not with PyJWT, so that a mistake
in how the signer uses PyJWT cannot hide behind the same library on both sides."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.auth.adapters.signer import RSA_BITS, InvalidToken, Signer, SigningKey
from shared.tokens import (
    ID_TOKEN_TYPE,
    LOGOUT_TOKEN_TYPE,
    PublicJwk,
    TokenVerifier,
    UnknownKey,
    UnsupportedKey,
    verification_key,
)
from tests.support.signing import AUDIENCE, ISSUER, check, claims

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime.now(UTC)
CLIENT = "portaal"


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def id_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "emp-1", "iat": now, "exp": now + 300}
    return {**base, **overrides}


def signer_with(*keys: SigningKey, cache_size: int = 100) -> Signer:
    signer = Signer(cache_size)
    signer.set_signing_keys(list(keys))
    signer.set_public_keys([k.public_jwk() for k in keys])
    return signer


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.generate("a", T0, "RS256")


@pytest.fixture(scope="module")
def ed_key() -> SigningKey:
    return SigningKey.generate("a", T0)


def test_the_rsa_jwk_is_public_rs256_and_2048_bits(rsa_key: SigningKey) -> None:
    jwk = rsa_key.public_jwk()
    assert set(jwk) == {"kty", "n", "e", "kid", "use", "alg"}, jwk
    assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["kid"]) == ("RSA", "sig", "RS256", rsa_key.kid)
    assert jwk["e"] == "AQAB"
    n = int.from_bytes(b64d(jwk["n"]), "big")
    assert n.bit_length() == RSA_BITS == 2048
    assert b64d(jwk["n"])[0] != 0, "the fewest octets (RFC 7518 §6.3.1.1)"
    assert rsa_key.kid.startswith("a-20260301-") and rsa_key.alg == "RS256"


def test_an_rsa_key_survives_its_sealed_bytes(rsa_key: SigningKey) -> None:
    raw = rsa_key.private_bytes()
    restored = SigningKey.from_private_bytes(rsa_key.kid, raw, rsa_key.not_before, "RS256")
    assert restored.public_jwk() == rsa_key.public_jwk() and restored.alg == "RS256"
    with pytest.raises(ValueError):
        SigningKey.from_private_bytes(rsa_key.kid, raw, rsa_key.not_before, "EdDSA")


def test_an_id_token_is_rs256_and_verifies_with_cryptography_from_the_jwk(
    rsa_key: SigningKey, ed_key: SigningKey
) -> None:
    token = signer_with(ed_key, rsa_key).sign_jwt(id_claims(), NOW, alg="RS256", typ=ID_TOKEN_TYPE)
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64d(header_b64))
    assert header == {"alg": "RS256", "kid": rsa_key.kid, "typ": "JWT"}
    jwk = rsa_key.public_jwk()
    public = rsa.RSAPublicNumbers(
        int.from_bytes(b64d(jwk["e"]), "big"), int.from_bytes(b64d(jwk["n"]), "big")
    ).public_key()
    public.verify(
        b64d(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert json.loads(b64d(payload_b64))["aud"] == CLIENT


def test_each_algorithm_signs_with_its_own_current_key(
    rsa_key: SigningKey, ed_key: SigningKey
) -> None:
    newer_rsa = SigningKey.generate("a", T0 + timedelta(days=30), "RS256")
    signer = signer_with(ed_key, rsa_key, newer_rsa)
    assert signer.current(T0 + timedelta(days=1), "RS256") is rsa_key
    assert signer.current(T0 + timedelta(days=31), "RS256") is newer_rsa
    assert signer.current(T0 + timedelta(days=31)) is ed_key, "EdDSA unless asked"
    access = signer.sign(claims(), T0 + timedelta(days=31))
    assert jwt.get_unverified_header(access) == {
        "alg": "EdDSA",
        "kid": ed_key.kid,
        "typ": "at+jwt",
    }
    logout = signer.sign_jwt(id_claims(), NOW, alg="EdDSA", typ=LOGOUT_TOKEN_TYPE)
    assert jwt.get_unverified_header(logout) == {
        "alg": "EdDSA",
        "kid": ed_key.kid,
        "typ": "logout+jwt",
    }


def test_a_zone_without_a_key_of_the_algorithm_signs_nothing_with_it(ed_key: SigningKey) -> None:
    with pytest.raises(RuntimeError, match="RS256"):
        signer_with(ed_key).sign_jwt(id_claims(), NOW, alg="RS256", typ=ID_TOKEN_TYPE)


@pytest.mark.parametrize("typ", ["at+jwt", "application/AT+JWT"])
def test_sign_jwt_makes_no_access_token(rsa_key: SigningKey, typ: str) -> None:
    with pytest.raises(ValueError, match="access tokens"):
        signer_with(rsa_key).sign_jwt(claims(), NOW, alg="RS256", typ=typ)


def test_sign_jwt_refuses_an_algorithm_it_has_no_keys_for(ed_key: SigningKey) -> None:
    with pytest.raises(ValueError, match="HS256"):
        signer_with(ed_key).sign_jwt(id_claims(), NOW, alg="HS256", typ="JWT")  # type: ignore[arg-type]


def test_another_zone_verifies_id_and_logout_tokens_with_the_public_keys(
    rsa_key: SigningKey, ed_key: SigningKey
) -> None:
    zone_a = signer_with(ed_key, rsa_key)
    zone_b = TokenVerifier(100)
    zone_b.set_public_keys([PublicJwk(rsa_key.public_jwk()), PublicJwk(ed_key.public_jwk())])
    id_token = zone_a.sign_jwt(id_claims(nonce="n-1"), NOW, alg="RS256", typ=ID_TOKEN_TYPE)
    got = zone_b.signed_jwt(id_token, ID_TOKEN_TYPE, ISSUER, CLIENT, 0)
    assert got["nonce"] == "n-1" and got["sub"] == "emp-1"
    assert not zone_b.remembers(id_token), "only access tokens are remembered"
    logout = zone_a.sign_jwt(id_claims(), NOW, alg="EdDSA", typ=LOGOUT_TOKEN_TYPE)
    assert zone_b.signed_jwt(logout, LOGOUT_TOKEN_TYPE, ISSUER, CLIENT, 0)["sub"] == "emp-1"
    # Only the algorithms asked for; only the type asked for; only the audience asked for.
    with pytest.raises(InvalidToken, match="only EdDSA"):
        zone_b.signed_jwt(id_token, ID_TOKEN_TYPE, ISSUER, CLIENT, 0, algorithms=["EdDSA"])
    with pytest.raises(InvalidToken, match="type"):
        zone_b.signed_jwt(id_token, LOGOUT_TOKEN_TYPE, ISSUER, CLIENT, 0)
    with pytest.raises(InvalidToken, match=r"(?i)audience"):
        zone_b.signed_jwt(id_token, ID_TOKEN_TYPE, ISSUER, "another-client", 0)
    with pytest.raises(InvalidToken, match=r"(?i)issuer"):
        zone_b.signed_jwt(id_token, ID_TOKEN_TYPE, "https://elders.example", CLIENT, 0)
    assert zone_b.signed_jwt(id_token, ID_TOKEN_TYPE, ISSUER, None, 0)["aud"] == CLIENT
    with pytest.raises(ValueError, match="signed_claims"):
        zone_b.signed_jwt(id_token, "at+jwt", ISSUER, CLIENT, 0)


def test_an_expired_id_token_verifies_only_as_a_hint(rsa_key: SigningKey) -> None:
    expired = signer_with(rsa_key).sign_jwt(
        id_claims(exp=int(time.time()) - 600), NOW, alg="RS256", typ=ID_TOKEN_TYPE
    )
    verifier = signer_with(rsa_key)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.signed_jwt(expired, ID_TOKEN_TYPE, ISSUER, CLIENT, 30)
    hint = verifier.signed_jwt(expired, ID_TOKEN_TYPE, ISSUER, None, 30, verify_exp=False)
    assert hint["sub"] == "emp-1"


def test_an_access_token_signed_rs256_by_a_trusted_key_is_refused(
    rsa_key: SigningKey, ed_key: SigningKey
) -> None:
    verifier = signer_with(ed_key, rsa_key)
    headers = {"kid": rsa_key.kid, "typ": "at+jwt"}
    rs256 = jwt.encode(claims(), rsa_key.private, algorithm="RS256", headers=headers)
    with pytest.raises(InvalidToken, match="only EdDSA"):
        check(verifier, rs256)
    assert not verifier.remembers(rs256)
    # Nor through sign_jwt's door, whatever the type says.
    as_jwt = verifier.sign_jwt(claims(), NOW, alg="RS256", typ=ID_TOKEN_TYPE)
    with pytest.raises(InvalidToken):
        check(verifier, as_jwt)
    # An EdDSA-signed ID token is not an access token either (typ).
    ed_jwt = verifier.sign_jwt(claims(), NOW, alg="EdDSA", typ=ID_TOKEN_TYPE)
    with pytest.raises(InvalidToken, match="at\\+jwt"):
        check(verifier, ed_jwt)


def test_a_key_verifies_with_its_own_algorithm_only(
    rsa_key: SigningKey, ed_key: SigningKey
) -> None:
    verifier = signer_with(ed_key, rsa_key)
    # An Ed25519 signature under the RSA key's id, and an RS256 one under the Ed25519 key's.
    ed_as_rsa = jwt.encode(
        id_claims(), ed_key.private, algorithm="EdDSA", headers={"kid": rsa_key.kid}
    )
    rsa_as_ed = jwt.encode(
        id_claims(), rsa_key.private, algorithm="RS256", headers={"kid": ed_key.kid}
    )
    for token in (ed_as_rsa, rsa_as_ed):
        with pytest.raises(InvalidToken, match="by a key that signs"):
            verifier.signed_jwt(token, ID_TOKEN_TYPE, ISSUER, CLIENT, 0)
    # The classic confusion: HS256 keyed with the RSA key's public PEM (made by hand: PyJWT
    # refuses to; a forger need not use PyJWT).
    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64e(json.dumps({"alg": "HS256", "kid": rsa_key.kid, "typ": "at+jwt"}).encode())
    payload = b64e(json.dumps(claims()).encode())
    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{b64e(mac)}"
    with pytest.raises(InvalidToken, match="by a key that signs"):
        check(verifier, confused)
    with pytest.raises(InvalidToken, match="by a key that signs"):
        verifier.signed_jwt(confused, ID_TOKEN_TYPE, ISSUER, None, 0)


def test_only_keys_auth_signs_with_are_trusted(rsa_key: SigningKey, ed_key: SigningKey) -> None:
    small = rsa.generate_private_key(65537, 1024)  # noqa: S505 (what is refused)
    small_jwk = {
        **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(small.public_key())),
        "kid": "a-small",
        "alg": "RS256",
    }
    assert isinstance(rsa_key.private, rsa.RSAPrivateKey)
    private_jwk = {
        **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.private)),
        "kid": rsa_key.kid,
    }
    refused = {
        "1024-bit RSA": small_jwk,
        "RSA for EdDSA": {**rsa_key.public_jwk(), "alg": "EdDSA"},
        "RSA for PS256": {**rsa_key.public_jwk(), "alg": "PS256"},
        "Ed25519 for RS256": {**ed_key.public_jwk(), "alg": "RS256"},
        "a private RSA key": private_jwk,
        "an EC key": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "a-ec"},
        "no key at all": {"kty": "RSA", "kid": "a-broken", "n": "", "e": ""},
    }
    for what, jwk in refused.items():
        with pytest.raises(UnsupportedKey):
            verification_key(jwk)
        verifier = TokenVerifier()
        verifier.set_public_keys([jwk])
        assert not verifier.knows(jwk["kid"]), what
        with pytest.raises(UnsupportedKey):
            verifier.add_public_key(jwk)
    without_alg = {k: v for k, v in rsa_key.public_jwk().items() if k != "alg"}
    assert verification_key(without_alg).alg == "RS256"
    assert verification_key(ed_key.public_jwk()).alg == "EdDSA"


def test_an_rsa_key_is_refused_from_its_retire_at_without_a_reload(rsa_key: SigningKey) -> None:
    id_token = signer_with(rsa_key).sign_jwt(id_claims(), NOW, alg="RS256", typ=ID_TOKEN_TYPE)
    verifier = TokenVerifier(100)
    retire_at = datetime.now(UTC) + timedelta(seconds=0.5)
    verifier.set_public_keys([PublicJwk(rsa_key.public_jwk(), retire_at)])
    assert verifier.signed_jwt(id_token, ID_TOKEN_TYPE, ISSUER, CLIENT, 0)
    time.sleep(max(0.0, (retire_at - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(UnknownKey):
        verifier.signed_jwt(id_token, ID_TOKEN_TYPE, ISSUER, CLIENT, 0)
    verifier.add_public_key(rsa_key.public_jwk(), datetime.now(UTC) - timedelta(seconds=1))
    assert not verifier.knows(rsa_key.kid), "announced retired: not trusted again"


def test_an_rsa_key_id_with_another_key_forgets_remembered_tokens(
    rsa_key: SigningKey, ed_key: SigningKey
) -> None:
    verifier = signer_with(ed_key, rsa_key)
    token = verifier.sign(claims(), datetime.now(UTC))
    assert check(verifier, token) and verifier.remembers(token)
    other = SigningKey.generate("a", T0, "RS256")
    verifier.add_public_key({**other.public_jwk(), "kid": rsa_key.kid})
    assert verifier.remembered == 0
    assert check(verifier, token)["aud"] == AUDIENCE, "the access token's own key stays"
