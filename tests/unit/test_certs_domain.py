"""The certificate store's pure rules: reading, checking and describing certificates, who may
use one, which expiry notice is due."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from services.certs.domain import certificate as certs
from services.certs.domain import rules
from tests.support.certificates import TestCA

CA = TestCA()
VECOZO = TestCA("VECOZO Test CA")
NOW = datetime.now(UTC)


def test_uzi_certificate_is_recognised_with_its_serial_parts() -> None:
    issued = CA.uzi()
    about = certs.describe(issued.cert)
    assert about.kind == "uzi"
    assert about.uzi == certs.Uzi("900012345", "30.015", "90000123", "12345678")
    assert about.subject.startswith("CN=dr. A. Jansen")
    assert about.key_type == "EC secp256r1" and about.key_size == 256


def test_vecozo_certificate_by_issuer_and_other() -> None:
    assert certs.describe(VECOZO.issue().cert).kind == "vecozo"
    assert certs.describe(CA.issue(org="Vecozo B.V.").cert).kind == "vecozo"
    assert certs.describe(CA.issue().cert).kind == "other"
    # A policy outside the UZI arc does not make a UZI certificate.
    assert certs.describe(CA.issue(policy="2.16.528.1.1003.1.3.1").cert).kind == "other"


def test_serial_spaced_and_fingerprint() -> None:
    issued = CA.issue(serial_number=0x0A1B2C, rsa_key=True)
    about = certs.describe(issued.cert)
    assert about.serial_number == "0A1B2C"
    assert about.serial_spaced == "0A 1B 2C"
    assert certs.serial_spaced(0xABC) == "0A BC"
    assert about.key_type == "RSA" and about.key_size == 2048
    assert len(about.fingerprint) == 64 and about.fingerprint == about.fingerprint.lower()


def test_uzi_serial_forms() -> None:
    assert certs.parse_uzi_serial("900012345") == certs.Uzi("900012345", None, None, None)
    assert certs.parse_uzi_serial("900012345/01.015/90000123") == certs.Uzi(
        "900012345", "01.015", "90000123", None
    )
    assert certs.parse_uzi_serial("abc/1/2") is None


def test_pkcs12_password_and_garbage() -> None:
    issued = CA.issue()
    data = base64.b64decode(issued.pkcs12("geheim"))
    cert, _ = certs.load_pkcs12(data, "geheim")
    assert cert == issued.cert
    with pytest.raises(certs.CertificateRefused) as wrong:
        certs.load_pkcs12(data, "fout")
    assert wrong.value.slug == "wrong-password"
    with pytest.raises(certs.CertificateRefused) as garbage:
        certs.load_pkcs12(b"\x00garbage" * 40, "geheim")
    assert garbage.value.slug == "unreadable-certificate"
    with pytest.raises(certs.CertificateRefused) as truncated:
        certs.load_pkcs12(data[: len(data) // 2], "geheim")
    assert truncated.value.slug == "unreadable-certificate"


def test_checks_key_and_validity() -> None:
    issued, other = CA.issue(), CA.issue()
    certs.check(issued.cert, issued.key, NOW)
    with pytest.raises(certs.CertificateRefused, match="belong") as mismatch:
        certs.check(issued.cert, other.key, NOW)
    assert mismatch.value.slug == "key-mismatch"
    expired = CA.issue(start=timedelta(days=-10), days=5)
    with pytest.raises(certs.CertificateRefused) as old:
        certs.check(expired.cert, expired.key, NOW)
    assert old.value.slug == "certificate-expired"
    future = CA.issue(start=timedelta(days=2))
    with pytest.raises(certs.CertificateRefused) as early:
        certs.check(future.cert, future.key, NOW)
    assert early.value.slug == "certificate-not-yet-valid"


def test_pem_unreadable() -> None:
    issued = CA.issue()
    with pytest.raises(certs.CertificateRefused) as bad:
        certs.load_pem("not a pem", issued.key_pem, None)
    assert bad.value.slug == "unreadable-certificate"
    with pytest.raises(certs.CertificateRefused) as bad_key:
        certs.load_pem(issued.cert_pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n", None)
    assert bad_key.value.slug == "unreadable-certificate"


@pytest.mark.parametrize(
    ("type_", "grants", "in_service", "service", "expected"),
    [
        ("personal", ["piet"], True, None, True),
        ("personal", ["anna"], True, None, False),
        ("public", [], True, None, True),
        ("public", [], False, None, False),
        ("public", [], True, "vecozo", True),
        ("public", [], True, "lsp", False),
        ("personal", ["piet"], True, "lsp", False),
    ],
)
def test_may_use(
    type_: str, grants: list[str], in_service: bool, service: str | None, expected: bool
) -> None:
    assert (
        rules.may_use(type_, grants, ["vecozo"], "piet", in_service, service)  # type: ignore[arg-type]
        == expected
    )


@pytest.mark.parametrize(
    ("left", "due", "days"),
    [
        (timedelta(days=40), None, 40),
        (timedelta(days=30), 30, 30),
        (timedelta(days=20), 30, 20),
        (timedelta(days=10), 14, 10),
        (timedelta(days=5), 7, 5),
        (timedelta(hours=20), 1, 1),
        (timedelta(seconds=0), 0, 0),
        (timedelta(days=-3), 0, 0),
    ],
)
def test_due_threshold(left: timedelta, due: int | None, days: int) -> None:
    assert rules.due_threshold(NOW + left, NOW) == due
    assert rules.days_left(NOW + left, NOW) == days


def test_expiry_ids_are_deterministic() -> None:
    assert rules.expiry_request_id("p", "n", 7) == rules.expiry_request_id("p", "n", 7)
    assert rules.expiry_request_id("p", "n", 7) != rules.expiry_request_id("p", "n", 1)
    assert rules.expiry_request_id("p", "n", 7) != rules.expiry_event_id("p", "n", 7)
