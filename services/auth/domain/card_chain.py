"""Whether a UZI-pas or PKIoverheid certificate may log someone in, as far as the certificate
itself and the trust store tell — pure, no I/O (revocation is :mod:`card_revocation`).

A certificate is accepted when it is valid now, its key is for authentication (the UZI
profile's authentication certificate: ``digitalSignature``; an extended key usage, if any,
includes ``clientAuth``), it chains to an anchor of the deployment's trust store (the UZI
register's and PKIoverheid's CAs) through ``cryptography``'s X.509 path validation, and it
carries the UZI subject ID (:mod:`shared.uzi`), which names the holder."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from shared import uzi

Means = Literal["uzi-pas", "pkioverheid"]
#: Root, CA, card: the UZI register's depth; PKIoverheid's is one more.
MAX_CHAIN_DEPTH = 5
#: A certificate (with its chain, as PEM) longer than this is not read.
MAX_PEM_CHARS = 32_768


class CardRefused(Exception):
    """A certificate that may not log in; ``slug`` is the stable problem type."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


@dataclass(frozen=True)
class TrustStore:
    """The deployment's trust store: self-signed certificates are anchors, the others
    intermediates a chain may pass through (a card's TLS handshake or a client may send its
    own too)."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, bundles: Iterable[bytes]) -> TrustStore:
        anchors: list[x509.Certificate] = []
        intermediates: list[x509.Certificate] = []
        for bundle in bundles:
            for cert in x509.load_pem_x509_certificates(bundle):
                self_signed = cert.issuer == cert.subject
                (anchors if self_signed else intermediates).append(cert)
        return cls(tuple(anchors), tuple(intermediates))

    @property
    def empty(self) -> bool:
        return not self.anchors


@dataclass(frozen=True)
class CheckedCard:
    """A certificate that passed every check but revocation: its chain from the card up to
    (not including) the anchor, with each certificate's issuer, and who it names."""

    certificate: x509.Certificate
    #: (certificate, its issuer) from the card upwards, the last issuer an anchor.
    links: tuple[tuple[x509.Certificate, x509.Certificate], ...]
    identity: uzi.UziIdentity
    means: Means
    fingerprint: str


def read_pem(text: str) -> list[x509.Certificate]:
    """The certificates of a PEM text (the card first); refused when it is none."""
    if len(text) > MAX_PEM_CHARS:
        raise CardRefused("unreadable-certificate", "The certificate is too long.")
    try:
        found = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        found = []
    if not found:
        raise CardRefused("unreadable-certificate", "This is not a PEM certificate.")
    return found


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def check_card(cert: x509.Certificate, now: datetime) -> None:
    """Validity and key usage, before the chain (so the answer says which)."""
    if now >= cert.not_valid_after_utc:
        raise CardRefused("certificate-expired", "The certificate has expired.")
    if now < cert.not_valid_before_utc:
        raise CardRefused("certificate-not-yet-valid", "The certificate is not valid yet.")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            raise CardRefused("wrong-key-usage", "A CA certificate does not log in.")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature:
        raise CardRefused(
            "wrong-key-usage",
            "This certificate is not for authentication (its key usage lacks digitalSignature): "
            "use the card's authentication certificate.",
        )
    try:
        extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.CLIENT_AUTH not in extended:
        raise CardRefused(
            "wrong-key-usage", "This certificate is not for client authentication (clientAuth)."
        )


def _verifier(store: TrustStore, now: datetime) -> verification.ClientVerifier:
    # The CAs are held to the Web PKI's CA profile; the card's own extensions are checked
    # above (check_card) against the UZI profile, which is not the Web PKI's (no SAN DNS
    # names, a critical key usage of digitalSignature only).
    return (
        verification.PolicyBuilder()
        .store(verification.Store(list(store.anchors)))
        .time(now)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )


def verify_chain(
    cert: x509.Certificate,
    presented: Sequence[x509.Certificate],
    store: TrustStore,
    now: datetime,
) -> list[x509.Certificate]:
    """The chain from ``cert`` to an anchor of ``store`` (both included), through the store's
    intermediates and those ``presented``; refused when there is none."""
    if store.empty:
        raise CardRefused(
            "untrusted-certificate", "No trust store is configured for certificate logins."
        )
    try:
        verified = _verifier(store, now).verify(cert, [*presented, *store.intermediates])
    except verification.VerificationError:
        raise CardRefused(
            "untrusted-certificate",
            "The certificate does not chain to a trusted CA (UZI register, PKIoverheid).",
        ) from None
    return list(verified.chain)


def means_of(identity: uzi.UziIdentity) -> Means:
    """A person's card is ``uzi-pas``; a server certificate (PKIoverheid services) is
    ``pkioverheid``."""
    return "uzi-pas" if identity.is_pass else "pkioverheid"


def check(
    cert: x509.Certificate,
    presented: Sequence[x509.Certificate],
    store: TrustStore,
    now: datetime,
) -> CheckedCard:
    """Every check but revocation, in the order whose refusal says most."""
    check_card(cert, now)
    chain = verify_chain(cert, presented, store, now)
    try:
        identity = uzi.identity(cert)
    except uzi.UziMalformed as error:
        raise CardRefused("malformed-certificate", str(error)) from None
    if identity is None:
        raise CardRefused(
            "malformed-certificate",
            "The certificate carries no UZI subject ID (subjectAltName otherName 2.5.5.5).",
        )
    links = tuple(itertools.pairwise(chain))
    return CheckedCard(cert, links, identity, means_of(identity), fingerprint(cert))
