"""Revocation of a certificate by CRL (RFC 5280) and OCSP (RFC 6960) — pure, no I/O: where a
certificate says to ask, the OCSP request to send, and what a CRL or an OCSP response (bytes
fetched by :mod:`services.auth.adapters.card_revocation`) says, once verified.

An answer counts only when it verifies: a CRL signed by the certificate's issuer, for that
issuer, current (``thisUpdate`` not in the future, ``nextUpdate`` not past); an OCSP response
signed by the issuer or by a responder the issuer delegated to (``id-kp-OCSPSigning``), about
this certificate, current, and echoing our nonce when it echoes one. Anything else is
:class:`NoAnswer`, as if the source had not answered. An answer is good until its
``nextUpdate``, which is how long it may be cached."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from shared import der

Status = Literal["good", "revoked"]
Source = Literal["ocsp", "crl"]
#: Clock skew tolerated on an answer's times.
SKEW = timedelta(minutes=5)
#: An OCSP response without ``nextUpdate`` is not cached longer than this.
NO_NEXT_UPDATE_KEEP = timedelta(minutes=5)


class NoAnswer(Exception):
    """A revocation source gave nothing that may be believed (the reason, for the log)."""


@dataclass(frozen=True)
class Answer:
    status: Status
    source: Source
    #: Believed until then (the answer's ``nextUpdate``).
    until: datetime


def _uris(names: list[x509.GeneralName]) -> list[str]:
    return [
        name.value
        for name in names
        if isinstance(name, x509.UniformResourceIdentifier)
        and name.value.lower().startswith(("http://", "https://"))
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    """The HTTP(S) addresses of the certificate's CRL distribution points."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [url for point in points for url in _uris(list(point.full_name or []))]


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The HTTP(S) addresses of the certificate's OCSP responders (authorityInfoAccess)."""
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return _uris(
        [a.access_location for a in access if a.access_method == AuthorityInformationAccessOID.OCSP]
    )


def key_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm | None = None) -> bytes:
    """The hash (SHA-1 unless said) of the certificate's public key bits: RFC 6960's
    ``issuerKeyHash`` and ``byKey`` responder ID."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, bits = der.read_all(der.read_one(spki).content)
    digest = hashes.Hash(algorithm or hashes.SHA1())  # noqa: S303 (RFC 6960)
    digest.update(bits.content[1:])  # the BIT STRING's bits, after its unused-bits count
    return digest.finalize()


def _name_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(cert.subject.public_bytes())
    return digest.finalize()


def ocsp_key(cert: x509.Certificate, issuer: x509.Certificate) -> str:
    """What an OCSP answer about ``cert`` is cached under."""
    return f"{key_hash(issuer).hex()}:{cert.serial_number:x}"


def _verify(
    key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None
) -> bool:
    if algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _current(this_update: datetime, next_update: datetime | None, now: datetime) -> None:
    if this_update > now + SKEW:
        raise NoAnswer("issued in the future")
    if next_update is not None and next_update + SKEW < now:
        raise NoAnswer("out of date (nextUpdate passed)")


# -- CRL -------------------------------------------------------------------------------------


def read_crl(
    data: bytes, issuer: x509.Certificate, now: datetime
) -> x509.CertificateRevocationList:
    """A CRL (DER or PEM) of ``issuer``, signed by it and current."""
    try:
        crl = (
            x509.load_pem_x509_crl(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(data)
        )
    except ValueError:
        raise NoAnswer("not a CRL") from None
    if crl.issuer != issuer.subject:
        raise NoAnswer("a CRL of another issuer")
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (UnsupportedAlgorithm, TypeError, ValueError):
        valid = False
    if not valid:
        raise NoAnswer("the CRL's signature does not verify")
    _current(crl.last_update_utc, crl.next_update_utc, now)
    return crl


def crl_answer(
    crl: x509.CertificateRevocationList, cert: x509.Certificate, now: datetime
) -> Answer:
    """What a verified CRL says of ``cert``."""
    revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    # A CRL without nextUpdate is kept as briefly as an OCSP answer without one.
    until = crl.next_update_utc or now + NO_NEXT_UPDATE_KEEP
    return Answer("revoked" if revoked else "good", "crl", until)


# -- OCSP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OcspRequest:
    der: bytes
    nonce: bytes


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> OcspRequest:
    """The request for ``cert`` (certificate ID with SHA-1, as responders expect) with a
    nonce."""
    nonce = secrets.token_bytes(16)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 (RFC 6960's CertID)
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
    )
    return OcspRequest(request.public_bytes(serialization.Encoding.DER), nonce)


def _delegated(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    """The responder certificate in ``response`` the issuer delegated OCSP signing to."""
    for candidate in response.certificates:
        named = response.responder_name is not None and candidate.subject == response.responder_name
        hashed = (
            response.responder_key_hash is not None
            and key_hash(candidate) == response.responder_key_hash
        )
        if not (named or hashed):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        try:
            usages = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
            continue
        if not candidate.not_valid_before_utc <= now < candidate.not_valid_after_utc:
            continue
        return candidate
    raise NoAnswer("signed by neither the issuer nor a responder it delegated to")


def _signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    if response.responder_name is not None and response.responder_name == issuer.subject:
        return issuer
    if response.responder_key_hash is not None and response.responder_key_hash == key_hash(issuer):
        return issuer
    return _delegated(response, issuer, now)


def _nonce(response: ocsp.OCSPResponse) -> bytes | None:
    try:
        return response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def ocsp_answer(
    data: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    nonce: bytes | None,
) -> Answer:
    """What an OCSP response says of ``cert``; ``unknown`` is no answer."""
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError:
        raise NoAnswer("not an OCSP response") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise NoAnswer(f"responder said {response.response_status.name}")
    signer = _signer(response, issuer, now)
    if not _verify(
        signer.public_key(),
        response.signature,
        response.tbs_response_bytes,
        response.signature_hash_algorithm,
    ):
        raise NoAnswer("the response's signature does not verify")
    echoed = _nonce(response)
    if nonce is not None and echoed is not None and echoed != nonce:
        raise NoAnswer("the response is for another request (nonce)")
    for single in response.responses:
        if single.serial_number != cert.serial_number:
            continue
        algorithm = single.hash_algorithm
        if single.issuer_key_hash != key_hash(issuer, algorithm):
            continue
        if single.issuer_name_hash != _name_hash(issuer, algorithm):
            continue
        _current(single.this_update_utc, single.next_update_utc, now)
        until = single.next_update_utc or now + NO_NEXT_UPDATE_KEEP
        if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
            return Answer("good", "ocsp", until)
        if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            return Answer("revoked", "ocsp", until)
        raise NoAnswer("the responder does not know the certificate")
    raise NoAnswer("the response is not about this certificate")
