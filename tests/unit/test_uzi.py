"""The UZI subject ID (subjectAltName otherName 2.5.5.5) and the URA (permanentIdentifier)
read from certificates of the UZI register's profile; malformed ones refused, never a crash."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from shared import der, uzi

SUBJECT_ID = "2.16.528.1.1003.1.3.5.5.2-1-900012345-Z-12345678-01.015-87654321"


def _cert(*names: x509.GeneralName) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "card")])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), False)
    return builder.sign(key, hashes.SHA256())


def test_the_subject_id_fields() -> None:
    found = uzi.parse_subject_id(SUBJECT_ID)
    assert found == uzi.UziIdentity(
        oid_ca="2.16.528.1.1003.1.3.5.5.2",
        version="1",
        uzi_number="900012345",
        card_type="Z",
        subscriber="12345678",
        role="01.015",
        agb="87654321",
        ura="12345678",
    )
    assert found.is_pass and found.subject_id == SUBJECT_ID
    server = uzi.parse_subject_id(
        "2.16.528.1.1003.1.3.5.5.5-1-987654321-S-12345678-00.000-00000000"
    )
    assert not server.is_pass and server.agb is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2.16.528.1.1003.1.3.5.5.2-1-900012345-Z-12345678-01.015",  # no AGB
        "2.16.528.1.1003.1.3.5.5.2-1-900012345-Q-12345678-01.015-00000000",  # card type
        "2.16.528.1.1003.1.3.5.5.2-1-9000x2345-Z-12345678-01.015-00000000",
        "2.16.528.1.1003.1.3.5.5.2-1-900012345-Z-12345678-1.15-00000000",  # role
        "2.16.528.1.1003.1.3.5.5.2-1-900012345-Z-12345678-01.015-0000000",  # AGB digits
        "x.16-1-900012345-Z-12345678-01.015-00000000",
        SUBJECT_ID + "-extra",
        SUBJECT_ID.replace("-", "\n", 1),
    ],
)
def test_malformed_subject_ids(value: str) -> None:
    with pytest.raises(uzi.UziMalformed):
        uzi.parse_subject_id(value)


def test_read_from_a_certificate_with_its_ura() -> None:
    cert = _cert(uzi.subject_id_value(SUBJECT_ID), uzi.permanent_identifier("12345678"))
    found = uzi.identity(cert)
    assert found is not None and found.ura == "12345678" and found.uzi_number == "900012345"
    assert uzi.permanent_ura(cert) == "12345678"
    # Without the permanentIdentifier the subscriber number is the URA.
    assert uzi.identity(_cert(uzi.subject_id_value(SUBJECT_ID))).ura == "12345678"  # type: ignore[union-attr]
    # A permanentIdentifier of another assigner says nothing about the URA.
    other = _cert(uzi.subject_id_value(SUBJECT_ID), uzi.permanent_identifier("x", "1.2.3.4"))
    assert uzi.permanent_ura(other) is None
    assert uzi.identity(_cert()) is None
    assert uzi.identity(_cert(x509.DNSName("example.test"))) is None


def test_a_ura_that_is_not_the_subscriber_number_is_malformed() -> None:
    cert = _cert(uzi.subject_id_value(SUBJECT_ID), uzi.permanent_identifier("99999999"))
    with pytest.raises(uzi.UziMalformed, match="subscriber"):
        uzi.identity(cert)


@pytest.mark.parametrize(
    "name",
    [
        # Not an IA5String but an INTEGER.
        x509.OtherName(x509.ObjectIdentifier(uzi.SUBJECT_ID_OID), der.encode(0x02, b"\x01")),
        # An IA5String with bytes beyond ASCII.
        x509.OtherName(x509.ObjectIdentifier(uzi.SUBJECT_ID_OID), der.encode(0x16, b"\xff\xfe")),
        # Two subject IDs.
        None,
    ],
)
def test_malformed_der_is_refused(name: x509.OtherName | None) -> None:
    names = (
        [name]
        if name
        else [
            uzi.subject_id_value(SUBJECT_ID),
            uzi.subject_id_value(SUBJECT_ID.replace("900012345", "900012346")),
        ]
    )
    with pytest.raises(uzi.UziMalformed):
        uzi.identity(_cert(*names))


def test_a_malformed_permanent_identifier_is_refused() -> None:
    bad = x509.OtherName(
        x509.ObjectIdentifier(uzi.PERMANENT_IDENTIFIER_OID),
        der.encode(
            der.SEQUENCE, der.encode(der.UTF8_STRING, b"12ab") + der.encode_oid(uzi.URA_ASSIGNER)
        ),
    )
    with pytest.raises(uzi.UziMalformed, match="not a number"):
        uzi.identity(_cert(uzi.subject_id_value(SUBJECT_ID), bad))


@given(st.binary(max_size=64))
def test_any_bytes_read_as_der_or_der_error(data: bytes) -> None:
    try:
        value = der.read_one(data)
    except der.DerError:
        return
    for reader in (der.text, der.oid):
        with contextlib.suppress(der.DerError):
            reader(value)


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=8))
def test_object_identifiers_round_trip(arcs: list[int]) -> None:
    dotted = ".".join(["2", "16", *map(str, arcs)])
    assert der.oid(der.read_one(der.encode_oid(dotted))) == dotted
