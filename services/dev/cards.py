"""A test hierarchy with the UZI register's profile, made with ``cryptography``: a root, a
"Zorgverlener CA" under it, a delegated OCSP responder, and cards (authentication certificates
of a zorgverlenerpas or medewerkerpas, or a server certificate) with the UZI subject ID, the
URA as a permanentIdentifier, a CRL distribution point and an OCSP address; and the CRL and the
OpenSSL ``index.txt`` that say which cards are revoked. ``tweestap dev cards`` and the tests use
it; nothing here is trusted by a deployment that does not list it in its trust store."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.hazmat.primitives.serialization.pkcs12 import PKCS12PrivateKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from shared import uzi

#: The UZI register's CA OIDs (PKIoverheid domain "Organisatie", TSP UZI-register), per card
#: type: Zorgverlener, Medewerker op naam, Medewerker niet op naam, Server.
CA_OIDS = {
    "Z": "2.16.528.1.1003.1.3.5.5.2",
    "N": "2.16.528.1.1003.1.3.5.5.3",
    "M": "2.16.528.1.1003.1.3.5.5.4",
    "S": "2.16.528.1.1003.1.3.5.5.5",
}
#: A certificate policy of the UZI register (what the certificate store recognises).
UZI_POLICY = "2.16.528.1.1003.1.2.8.4"
#: Key usages by kind of certificate: a card's authentication certificate signs only
#: (digitalSignature); its signature certificate is nonRepudiation only (not for logging in);
#: a server certificate signs and enciphers keys.
KEY_USAGES = {
    "authentication": {"digital_signature": True},
    "signature": {"content_commitment": True},
    "server": {"digital_signature": True, "key_encipherment": True},
}
_NO_USAGE = {
    "digital_signature": False,
    "content_commitment": False,
    "key_encipherment": False,
    "data_encipherment": False,
    "key_agreement": False,
    "key_cert_sign": False,
    "crl_sign": False,
    "encipher_only": False,
    "decipher_only": False,
}


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(
    common_name: str, organisation: str = "Tweestap test", serial: str | None = None
) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ]
    if serial:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _usage(kind: str) -> x509.KeyUsage:
    return x509.KeyUsage(**{**_NO_USAGE, **KEY_USAGES[kind]})


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def private_key_pem(key: PrivateKeyTypes) -> str:
    """The key as unencrypted PKCS#8 PEM (test keys only)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def pkcs12_file(
    key: PKCS12PrivateKeyTypes,
    cert: x509.Certificate,
    password: str,
    chain: Sequence[x509.Certificate] = (),
    name: bytes = b"card",
) -> bytes:
    """A PKCS#12 file of the key, the certificate and ``chain``, encrypted with ``password``."""
    return pkcs12.serialize_key_and_certificates(
        name,
        key,
        cert,
        list(chain) or None,
        serialization.BestAvailableEncryption(password.encode()),
    )


@dataclass
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def pem(self) -> str:
        return certificate_pem(self.cert)

    @property
    def key_pem(self) -> str:
        return private_key_pem(self.key)

    def pkcs12(self, password: str, chain: Sequence[Issued] = ()) -> bytes:
        return pkcs12_file(self.key, self.cert, password, [c.cert for c in chain])


def _ca(name: x509.Name, issuer: Issued | None, now: datetime, path_length: int | None) -> Issued:
    key = _key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(**{**_NO_USAGE, "key_cert_sign": True, "crl_sign": True}),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    signer = issuer.key if issuer else key
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False
        )
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@dataclass
class Card:
    """What a card says (the defaults: a zorgverlenerpas of a physician)."""

    uzi_number: str
    ura: str
    card_type: str = "Z"
    role: str = "01.015"
    agb: str | None = None
    name: str = "Test Zorgverlener"
    #: ``authentication``, ``signature`` (refused at login) or ``server``.
    usage: str = "authentication"
    #: The URA as a permanentIdentifier too (cards since November 2023).
    permanent_identifier: bool = True
    #: Overrides the UZI subject ID (a malformed one, in tests).
    subject_id: str | None = None
    valid_from: timedelta = timedelta(days=-1)
    valid_for: timedelta = timedelta(days=365)
    crl: bool = True
    ocsp: bool = True
    #: Another OCSP responder's address than the hierarchy's (one that does not answer).
    ocsp_url: str | None = None


@dataclass
class Hierarchy:
    """A root, an intermediate "Zorgverlener CA" that issues cards, and its OCSP responder."""

    label: str
    root: Issued
    ca: Issued
    responder: Issued
    crl_url: str
    ocsp_url: str
    cards: list[tuple[Issued, Card]] = field(default_factory=list)

    @property
    def bundle(self) -> str:
        """The trust store's PEM: the root (an anchor) and the intermediate."""
        return self.root.pem + self.ca.pem

    def card(self, card: Card, now: datetime | None = None) -> Issued:
        now = now or datetime.now(UTC)
        key = _key()
        role = "00.000" if card.card_type != "Z" else card.role
        subject_id = card.subject_id or (
            f"{CA_OIDS[card.card_type]}-1-{card.uzi_number}-{card.card_type}-{card.ura}-"
            f"{role}-{card.agb or uzi.NO_AGB}"
        )
        names: list[x509.GeneralName] = [uzi.subject_id_value(subject_id)]
        if card.permanent_identifier:
            names.append(uzi.permanent_identifier(card.ura))
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if card.usage == "server":
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            names.append(x509.DNSName("server.test"))
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                _name(card.name, f"{self.label} zorg", f"{card.uzi_number}/{role}/{card.ura}")
            )
            .issuer_name(self.ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + card.valid_from)
            .not_valid_after(now + card.valid_from + card.valid_for)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(card.usage), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(UZI_POLICY), None)]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.key.public_key()),
                False,
            )
        )
        if card.crl:
            point = x509.DistributionPoint(
                [x509.UniformResourceIdentifier(self.crl_url)], None, None, None
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), False)
        if card.ocsp:
            access = x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(card.ocsp_url or self.ocsp_url),
            )
            builder = builder.add_extension(x509.AuthorityInformationAccess([access]), False)
        issued = Issued(builder.sign(self.ca.key, hashes.SHA256()), key)
        self.cards.append((issued, card))
        return issued

    def crl(
        self,
        revoked: Iterable[Issued],
        now: datetime | None = None,
        next_update: timedelta = timedelta(hours=1),
    ) -> bytes:
        """The CA's CRL (DER) listing ``revoked``."""
        now = now or datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.cert.subject)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + next_update)
            .add_extension(x509.CRLNumber(int(now.timestamp())), False)
        )
        for card in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(card.cert.serial_number)
                .revocation_date(now - timedelta(minutes=1))
                .build()
            )
        return builder.sign(self.ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp_index(self, revoked: Iterable[Issued], now: datetime | None = None) -> str:
        """OpenSSL's ``index.txt`` (``openssl ocsp -index``) of every card issued here."""
        now = now or datetime.now(UTC)
        gone = {card.cert.serial_number for card in revoked}
        lines = []
        for issued, _ in self.cards:
            cert = issued.cert
            expiry = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
            status, when = ("R", (now - timedelta(minutes=1)).strftime("%y%m%d%H%M%SZ"))
            if cert.serial_number not in gone:
                status, when = "V", ""
            serial = format(cert.serial_number, "X")
            serial = serial if len(serial) % 2 == 0 else "0" + serial
            subject = "/" + "/".join(
                f"{a.rfc4514_attribute_name}={a.value!s}" for a in cert.subject
            )
            lines.append(f"{status}\t{expiry}\t{when}\t{serial}\tunknown\t{subject}\n")
        return "".join(lines)


def hierarchy(label: str, crl_url: str, ocsp_url: str, now: datetime | None = None) -> Hierarchy:
    """A new root, its "Zorgverlener CA" and that CA's OCSP responder."""
    now = now or datetime.now(UTC)
    root = _ca(_name(f"{label} UZI-register Root CA"), None, now, path_length=1)
    ca = _ca(_name(f"{label} UZI-register Zorgverlener CA"), root, now, path_length=0)
    key = _key()
    responder = (
        _year_under(ca, _name(f"{label} UZI-register OCSP"), key, now)
        .add_extension(x509.KeyUsage(**{**_NO_USAGE, "digital_signature": True}), True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
        .sign(ca.key, hashes.SHA256())
    )
    return Hierarchy(label, root, ca, Issued(responder, key), crl_url, ocsp_url)


def _year_under(
    ca: Issued, name: x509.Name, key: rsa.RSAPrivateKey, now: datetime
) -> x509.CertificateBuilder:
    """A certificate of ``name`` for ``key``, not a CA, valid for a year from yesterday, to be
    signed by ``ca`` (its own extensions added first)."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )


def tls_server(hosts: Sequence[str], now: datetime | None = None) -> tuple[Issued, Issued]:
    """A TLS CA of its own and a server certificate for ``hosts`` (the terminator's)."""
    now = now or datetime.now(UTC)
    ca = _ca(_name("Tweestap test TLS CA"), None, now, path_length=0)
    key = _key()
    names: list[x509.GeneralName] = [x509.DNSName(host) for host in hosts]
    cert = (
        _year_under(ca, _name(hosts[0]), key, now)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return ca, Issued(cert, key)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
