"""The certificate fallback's pure rules: which certificate may be used, the nonce, the
signature check (RSA-PSS and ECDSA over SHA-256, nothing else) and the limit per 30 days."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from services.auth.domain.fallback import (
    NONCE_PREFIX,
    WINDOW,
    FallbackCertificate,
    decode_signature,
    new_nonce,
    reference,
    refusal,
    retry_after,
    signature_valid,
    signing_key,
    uses_left,
)
from shared.events import utcnow
from tests.support.certificates import TestCA

CA = TestCA()
NOW = utcnow()
FINGERPRINT = "ab" * 32


def held(**changes: object) -> FallbackCertificate:
    base = FallbackCertificate(
        nr="c1",
        fingerprint=FINGERPRINT,
        certificate_pem="",
        subject="CN=Anna",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=30),
        type="personal",
        grants=("e1",),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def b64(raw: bytes, url: bool = False) -> str:
    return (base64.urlsafe_b64encode(raw).rstrip(b"=") if url else base64.b64encode(raw)).decode()


def test_only_a_valid_personal_certificate_granted_to_the_employee() -> None:
    assert refusal(held(), "e1", NOW) is None
    assert refusal(held(), "e2", NOW) == "not-granted"
    assert refusal(held(type="public", grants=("e1",)), "e1", NOW) == "public"
    assert refusal(held(removed=True), "e1", NOW) == "removed"
    assert refusal(held(signing_key=False), "e1", NOW) == "key-type"
    assert refusal(held(not_after=NOW), "e1", NOW) == "expired"
    assert refusal(held(not_before=NOW + timedelta(seconds=1)), "e1", NOW) == "not-yet-valid"


def test_nonce_is_random_and_prefixed() -> None:
    first, second = new_nonce(), new_nonce()
    assert first.startswith(NONCE_PREFIX) and first != second
    assert len(base64.urlsafe_b64decode(first[len(NONCE_PREFIX) :] + "=")) == 32


def test_certificate_named_by_nr_or_fingerprint_in_any_notation() -> None:
    colons = ":".join(FINGERPRINT[i : i + 2] for i in range(0, 64, 2)).upper()
    assert reference(colons) == FINGERPRINT
    assert reference(f" {FINGERPRINT.upper()} ") == FINGERPRINT
    assert reference("c1") == "c1"


def test_rsa_pss_signatures_verify_with_any_salt_length() -> None:
    issued = CA.issue(rsa_key=True)
    assert isinstance(issued.key, rsa.RSAPrivateKey)
    message = new_nonce().encode()
    for salt in (32, padding.PSS.MAX_LENGTH):
        signature = issued.key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
            hashes.SHA256(),
        )
        assert signature_valid(issued.cert_pem, message, signature)
        assert not signature_valid(issued.cert_pem, message + b"x", signature)
    pkcs1 = issued.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    assert not signature_valid(issued.cert_pem, message, pkcs1), "RSA-PSS only"


def test_ecdsa_signatures_verify_only_with_the_certificates_key() -> None:
    issued, other = CA.issue(), CA.issue()
    assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
    message = new_nonce().encode()
    signature = issued.key.sign(message, ec.ECDSA(hashes.SHA256()))
    assert signature_valid(issued.cert_pem, message, signature)
    assert not signature_valid(other.cert_pem, message, signature)
    assert not signature_valid(issued.cert_pem, message, b"\x30\x00")
    assert not signature_valid("not a certificate", message, signature)


def test_other_key_types_never_verify() -> None:
    """An Ed25519 certificate: its own correct signature is still refused."""
    key = ed25519.Ed25519PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed")]))
        .issuer_name(CA.name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(CA.key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    message = b"m"
    key.public_key().verify(key.sign(message), message)  # a good signature ...
    assert not signature_valid(pem, message, key.sign(message))  # ... of the wrong kind
    assert not signing_key(pem), "so such a certificate is never offered"
    assert signing_key(CA.issue().cert_pem) and signing_key(CA.issue(rsa_key=True).cert_pem)
    assert not signing_key("garbage")


def test_signature_encodings() -> None:
    raw = bytes(range(256))
    assert decode_signature(b64(raw)) == raw
    assert decode_signature(b64(raw, url=True)) == raw
    assert decode_signature("not base64!") is None
    assert decode_signature("") is None
    assert decode_signature(b64(b"x" * 4096)) is None, "longer than any real signature"


def test_uses_left_and_when_the_oldest_use_leaves_the_window() -> None:
    assert uses_left(3, 0) == 3 and uses_left(3, 3) == 0 and uses_left(3, 5) == 0
    oldest = NOW - WINDOW + timedelta(hours=1)
    assert retry_after(oldest, NOW) == 3600
    assert retry_after(NOW - WINDOW - timedelta(days=1), NOW) == 1
