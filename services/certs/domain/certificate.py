"""Reading an imported certificate and its key, and describing it: pure, no I/O.

Refusals are :class:`CertificateRefused` with a stable slug the HTTP layer turns into a
problem answer; nothing is stored for a refused import."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtensionOID, NameOID

from shared import uzi
from shared.events import CertificateKind

#: Certificate policies of the UZI register (Dutch healthcare): 2.16.528.1.1003.1.2.*
UZI_POLICY_PREFIX = "2.16.528.1.1003.1.2."
PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | dsa.DSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


class CertificateRefused(Exception):
    """An import that cannot be accepted; ``slug`` names why (stable problem type)."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


@dataclass(frozen=True)
class Uzi:
    number: str
    role: str | None
    subscriber: str | None
    agb: str | None
    #: The pas type of the UZI subject ID (Z zorgverlener, N/M medewerker, S server).
    card_type: str | None = None
    #: The care organisation's URA (the permanentIdentifier, else the subscriber number).
    ura: str | None = None


@dataclass(frozen=True)
class Description:
    """What the store shows of a certificate (never the key)."""

    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    serial_number: str
    serial_spaced: str
    key_type: str
    key_size: int
    fingerprint: str
    kind: CertificateKind
    uzi: Uzi | None


def _der_length(data: bytes, at: int) -> tuple[int, int] | None:
    """(length, offset of the content) of the DER length at ``at``; None if malformed."""
    if at >= len(data):
        return None
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    if count == 0 or count > 4 or at + 1 + count > len(data):
        return None
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), at + 1 + count


def looks_like_pkcs12(data: bytes) -> bool:
    """A DER ``PFX`` (SEQUENCE spanning the whole file, starting with INTEGER version 3):
    if this holds and the file does not open, the password is what is wrong."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    outer = _der_length(data, 1)
    if outer is None or outer[1] + outer[0] != len(data):
        return False
    start = outer[1]
    return data[start : start + 3] == b"\x02\x01\x03"


def load_pkcs12(data: bytes, password: str | None) -> tuple[x509.Certificate, PrivateKey]:
    secrets = [password.encode()] if password else [None, b""]
    for secret in secrets:
        try:
            key, cert, _ = pkcs12.load_key_and_certificates(data, secret)
        except ValueError:
            continue
        if cert is None or key is None:
            raise CertificateRefused(
                "unreadable-certificate", "The PKCS#12 file must hold a certificate and its key."
            )
        if not isinstance(key, PrivateKey):
            raise CertificateRefused("unreadable-certificate", "Unsupported key type.")
        return cert, key
    if looks_like_pkcs12(data):
        raise CertificateRefused("wrong-password", "The PKCS#12 password is not correct.")
    raise CertificateRefused("unreadable-certificate", "The file is not a PKCS#12 certificate.")


def load_pem(
    certificate_pem: str, key_pem: str, password: str | None
) -> tuple[x509.Certificate, PrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise CertificateRefused(
            "unreadable-certificate", "The certificate is not a PEM certificate."
        ) from None
    try:
        key = serialization.load_pem_private_key(
            key_pem.encode(), password.encode() if password else None
        )
    except TypeError:
        raise CertificateRefused(
            "wrong-password", "The key is encrypted: a password is needed."
        ) from None
    except ValueError:
        if password and "ENCRYPTED" in key_pem:
            raise CertificateRefused("wrong-password", "The key password is not correct.") from None
        raise CertificateRefused("unreadable-certificate", "The key is not a PEM key.") from None
    if not isinstance(key, PrivateKey):
        raise CertificateRefused("unreadable-certificate", "Unsupported key type.")
    return cert, key


def _spki(public: object) -> bytes:
    assert hasattr(public, "public_bytes")
    der: bytes = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def check(cert: x509.Certificate, key: PrivateKey, now: datetime) -> None:
    """The key belongs to the certificate and the certificate is valid ``now``."""
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise CertificateRefused("key-mismatch", "The key does not belong to the certificate.")
    if cert.not_valid_after_utc <= now:
        raise CertificateRefused("certificate-expired", "The certificate has expired.")
    if cert.not_valid_before_utc > now:
        raise CertificateRefused("certificate-not-yet-valid", "The certificate is not valid yet.")


def key_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (to be sealed at once)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def serial_hex(serial: int) -> str:
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def serial_spaced(serial: int) -> str:
    """``0A 1B 2C``: hex pairs, upper case, separated by spaces (as certificate viewers show)."""
    text = serial_hex(serial)
    return " ".join(text[i : i + 2] for i in range(0, len(text), 2))


def key_type(cert: x509.Certificate) -> tuple[str, int]:
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return "RSA", public.key_size
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"EC {public.curve.name}", public.key_size
    if isinstance(public, dsa.DSAPublicKey):
        return "DSA", public.key_size
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(public, ed448.Ed448PublicKey):
        return "Ed448", 456
    return "unknown", 0


def policies(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES)
    except x509.ExtensionNotFound:
        return []
    assert isinstance(ext.value, x509.CertificatePolicies)
    return [p.policy_identifier.dotted_string for p in ext.value]


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def parse_uzi_serial(value: str) -> Uzi | None:
    """The subject serialNumber of a UZI certificate: ``UZI-number/role/subscriber[/AGB]``
    (a bare UZI number is accepted too)."""
    parts = [p.strip() for p in value.split("/")] + [""] * 3
    if not re.fullmatch(r"[0-9]{6,12}", parts[0]):
        return None
    agb = parts[3] if re.fullmatch(r"[0-9]{8}", parts[3]) else None
    role, subscriber = parts[1] or None, parts[2] or None
    return Uzi(parts[0], role, subscriber, agb)


def uzi_of_subject_id(cert: x509.Certificate) -> Uzi | None:
    """The UZI fields of the subjectAltName's UZI subject ID (otherName 2.5.5.5) and URA
    (:mod:`shared.uzi`, what a card login reads); None if it carries none, or none the profile
    allows (the store still keeps such a certificate, described by its serialNumber)."""
    try:
        found = uzi.identity(cert)
    except uzi.UziMalformed:
        return None
    if found is None:
        return None
    return Uzi(
        found.uzi_number, found.role, found.subscriber, found.agb, found.card_type, found.ura
    )


def classify(cert: x509.Certificate) -> tuple[CertificateKind, Uzi | None]:
    from_subject_id = uzi_of_subject_id(cert)
    if from_subject_id is not None:
        return "uzi", from_subject_id
    if any(p.startswith(UZI_POLICY_PREFIX) for p in policies(cert)):
        serial = _attribute(cert.subject, NameOID.SERIAL_NUMBER)
        return "uzi", parse_uzi_serial(serial) if serial else None
    names = f"{cert.subject.rfc4514_string()} {cert.issuer.rfc4514_string()}".lower()
    if "vecozo" in names:
        return "vecozo", None
    return "other", None


def describe(cert: x509.Certificate) -> Description:
    kind, uzi = classify(cert)
    ktype, ksize = key_type(cert)
    return Description(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial_number=serial_hex(cert.serial_number),
        serial_spaced=serial_spaced(cert.serial_number),
        key_type=ktype,
        key_size=ksize,
        fingerprint=fingerprint(cert),
        kind=kind,
        uzi=uzi,
    )


def describe_pem(pem: str) -> Description:
    return describe(x509.load_pem_x509_certificate(pem.encode()))
