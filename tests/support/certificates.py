"""Certificates made in the tests with ``cryptography``: a test CA, UZI-like, Vecozo-like,
expired, not-yet-valid, PKCS#12 files."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from services.dev.cards import UZI_POLICY, certificate_pem, pkcs12_file, private_key_pem

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _name(cn: str, org: str | None = None, serial: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "NL")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass
class Issued:
    cert: x509.Certificate
    key: Key

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)

    @property
    def key_pem(self) -> str:
        return private_key_pem(self.key)

    def pkcs12(self, password: str) -> str:
        data = pkcs12_file(self.key, self.cert, password, name=b"test")
        return base64.b64encode(data).decode()

    def pem_body(self) -> dict[str, str]:
        return {"certificate_pem": self.cert_pem, "key_pem": self.key_pem}


class TestCA:
    __test__ = False

    def __init__(self, name: str = "Test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(name, "Tweestap Test")
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        cn: str = "Fysio Jansen",
        org: str | None = "Fysio Jansen",
        serial: str | None = None,
        policy: str | None = None,
        start: timedelta = timedelta(days=-1),
        days: float = 365,
        serial_number: int | None = None,
        rsa_key: bool = False,
    ) -> Issued:
        key: Key = (
            rsa.generate_private_key(65537, 2048)
            if rsa_key
            else ec.generate_private_key(ec.SECP256R1())
        )
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, org, serial))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(serial_number or x509.random_serial_number())
            .not_valid_before(now + start)
            .not_valid_after(now + start + timedelta(days=days))
        )
        if policy:
            builder = builder.add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]
                ),
                critical=False,
            )
        return Issued(builder.sign(self.key, hashes.SHA256()), key)

    def uzi(self, **kwargs: object) -> Issued:
        return self.issue(
            cn="dr. A. Jansen",
            org=None,
            serial="900012345/30.015/90000123/12345678",
            policy=UZI_POLICY,
            **kwargs,  # type: ignore[arg-type]
        )


#: A CA with Vecozo's name: what it issues counts as a Vecozo certificate.
VECOZO = TestCA("VECOZO Test CA")
