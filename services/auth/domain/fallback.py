"""The certificate fallback login (eHealth's fallback procedure) — pure, no I/O: which
certificate an employee may prove possession of, the nonce to sign, the signature check and
the limit on uses.

The client signs the UTF-8 bytes of the nonce exactly as auth hands it out, with the private key
of a Personal certificate granted to the employee: RSA-PSS (SHA-256, MGF1-SHA-256, any salt
length) for an RSA key, ECDSA with SHA-256 (DER signature) for an EC key. The nonce carries a
fixed prefix, so a signature made for it cannot be mistaken for one over anything else.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from shared.factor_kinds import amr_of

#: Fallback uses are counted per employee over this period.
WINDOW = timedelta(days=30)
NONCE_PREFIX = "tweestap-fallback-v1:"
#: The ``amr`` of a fallback login: password and proof of possession of a certificate's key.
AMR = amr_of("certificate")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
#: The largest signature accepted (RSA 8192 bits is 1 KiB).
MAX_SIGNATURE_BYTES = 2048


@dataclass(frozen=True)
class FallbackCertificate:
    """A certificate as auth holds it (from ``certs.events``): public parts only."""

    nr: str
    fingerprint: str
    certificate_pem: str
    subject: str
    not_before: datetime
    not_after: datetime
    type: str
    grants: tuple[str, ...]
    removed: bool = False
    #: The key is one the fallback accepts signatures of (RSA or EC).
    signing_key: bool = True


def new_nonce() -> str:
    """256 random bits, URL-safe, behind the fallback prefix."""
    return NONCE_PREFIX + secrets.token_urlsafe(32)


def reference(value: str) -> str:
    """How a client names the certificate: its ``nr``, or its SHA-256 fingerprint (hex, with
    or without colons, any case)."""
    value = value.strip()
    compact = value.replace(":", "").lower()
    return compact if _FINGERPRINT.match(compact) else value


def usable(certificate: FallbackCertificate, employee: str, now: datetime) -> bool:
    return refusal(certificate, employee, now) is None


def refusal(certificate: FallbackCertificate, employee: str, now: datetime) -> str | None:
    """Why ``employee`` may not use ``certificate`` for the fallback now (None: they may).
    Personal possession is the point: a Public certificate, which every employee may use,
    proves nothing about who logs in."""
    if certificate.removed:
        return "removed"
    if certificate.type != "personal":
        return "public"
    if not certificate.signing_key:
        return "key-type"
    if employee not in certificate.grants:
        return "not-granted"
    if now < certificate.not_before:
        return "not-yet-valid"
    if now >= certificate.not_after:
        return "expired"
    return None


REFUSALS = {
    "removed": "This certificate is no longer in the practice's certificate store.",
    "public": "A Public certificate cannot be used for the fallback login; "
    "it needs a Personal certificate granted to you.",
    "key-type": "This certificate's key type cannot sign the fallback's challenge "
    "(RSA or EC keys can).",
    "not-granted": "This certificate is not granted to you.",
    "not-yet-valid": "This certificate is not valid yet.",
    "expired": "This certificate has expired.",
}


def signing_key(certificate_pem: str) -> bool:
    """Whether the certificate's key is of a type whose signatures the fallback checks."""
    try:
        key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    except ValueError:
        return False
    return isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)


def decode_signature(value: str) -> bytes | None:
    """A signature in base64 or base64url, padded or not; None if it is neither."""
    text = value.strip()
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if 0 < len(raw) <= MAX_SIGNATURE_BYTES else None


def signature_valid(certificate_pem: str, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with the certificate's public key
    (RSA-PSS or ECDSA, SHA-256); any other key type never verifies."""
    try:
        key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    except ValueError:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                signature,
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def uses_left(max_uses: int, used: int) -> int:
    return max(0, max_uses - used)


def retry_after(oldest: datetime, now: datetime) -> int:
    """Seconds until the oldest use in the window leaves it."""
    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
