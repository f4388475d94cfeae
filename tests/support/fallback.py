"""The certificate fallback login in tests: the certificate store simulated (its
``certificate.upserted`` events published through auth's outbox), a test CA, the signature the
practice software makes over the nonce, and the verify call that sends it."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from shared.events import CertificateUpserted, utcnow
from shared.topics import CERTS_EVENTS
from tests.support.certificates import Issued, TestCA
from tests.support.cluster import Zone
from tests.support.factors import PRACTICE, emit, until_in

CA = TestCA()


# -- the certificate store, simulated ---------------------------------------------------------


async def publish_certificate(
    zones: list[Zone],
    nr: str,
    issued: Issued,
    grants: list[str],
    type_: str = "personal",
    version: int = 1,
    removed: bool = False,
) -> None:
    cert = issued.cert
    body = CertificateUpserted(
        nr=nr,
        fingerprint=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        certificate_pem=issued.cert_pem,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial_number=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        kind="other",
        type=type_,
        grants=grants,
        removed=removed,
        version=version,
        updated_at=utcnow(),
        zone="a",
    )
    await emit(zones[0], CERTS_EVENTS, "certificate.upserted", nr, body.model_dump(mode="json"))
    await until_in(
        zones,
        "SELECT version = $3 FROM certificates WHERE practice = $1 AND nr = $2",
        PRACTICE,
        nr,
        version,
    )


def sign(issued: Issued, nonce: str, url: bool = False) -> str:
    """What the practice software does with the certificate's key: RSA-PSS or ECDSA, SHA-256,
    over the nonce's UTF-8 bytes."""
    message = nonce.encode()
    if isinstance(issued.key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        raw = issued.key.sign(message, pss, hashes.SHA256())
    else:
        assert isinstance(issued.key, ec.EllipticCurvePrivateKey)
        raw = issued.key.sign(message, ec.ECDSA(hashes.SHA256()))
    encoded = base64.urlsafe_b64encode(raw).rstrip(b"=") if url else base64.b64encode(raw)
    return encoded.decode()


async def verify_certificate(
    zone: Zone, login_id: str, certificate: str, signature: str
) -> tuple[int, dict[str, Any]]:
    response = await zone.client.post(
        f"/v1/login/{login_id}/verify",
        json={"factor": "certificate", "certificate": certificate, "signature": signature},
    )
    return response.status, await response.json(content_type=None)
