"""Who a UZI certificate names (the UZI register's certificate profile) — pure, no I/O.

Every certificate of the UZI register (the cards: zorgverlenerpas ``Z``, medewerkerpas op naam
``N`` and niet op naam ``M``; and server certificates ``S``) carries in its subjectAltName an
``otherName`` of type 2.5.5.5 whose value, an IA5String, is

    <OID-CA>-<version>-<UZI-nr>-<pastype>-<abonnee-nr>-<rol>-<AGB>

e.g. ``2.16.528.1.1003.1.3.5.5.2-1-12345678-Z-90000123-01.015-00000000``: the issuing CA's OID,
the field layout's version, the card holder's UZI number, the card type, the subscriber number
(abonneenummer: the URA, UZI-register abonneenummer, of the care organisation), the role
(``<beroepstitel>.<specialisme>`` on a zorgverlenerpas, ``00.000`` on the others) and the AGB
code (``00000000``: none). Certificates issued since November 2023 also carry the URA as an
RFC 4043 ``permanentIdentifier`` whose assigner is 2.16.528.1.1007.3.3 (the URA's OID); where
it is present it is the URA, and a subscriber number that disagrees with it makes the
certificate malformed. The UZI number is the one Dezi names with 2.16.528.1.1007.3.1."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from cryptography import x509

from shared import der

#: The otherName type of the UZI subject ID.
SUBJECT_ID_OID: Final = "2.5.5.5"
#: RFC 4043 permanentIdentifier (id-on-permanentIdentifier).
PERMANENT_IDENTIFIER_OID: Final = "1.3.6.1.5.5.7.8.3"
#: The URA (UZI-register abonneenummer) as an assigner of identifiers.
URA_ASSIGNER: Final = "2.16.528.1.1007.3.3"
#: Card types: the smart cards and the server certificate.
CARD_TYPES: Final = {
    "Z": "zorgverlenerpas",
    "N": "medewerkerpas op naam",
    "M": "medewerkerpas niet op naam",
    "S": "servercertificaat",
}
#: Card types that are a person's smart card (the rest are server certificates).
PASSES: Final = frozenset({"Z", "N", "M"})
NO_AGB: Final = "00000000"
_SUBJECT_ID = re.compile(
    r"(?P<oid_ca>[0-2](?:\.(?:0|[1-9][0-9]{0,9})){1,30})"
    r"-(?P<version>[0-9]{1,3})"
    r"-(?P<uzi_number>[0-9]{1,12})"
    r"-(?P<card_type>[ZNMS])"
    r"-(?P<subscriber>[0-9]{1,12})"
    r"-(?P<role>[0-9]{2}\.[0-9]{3})"
    r"-(?P<agb>[0-9]{8})"
)
_URA = re.compile(r"[0-9]{1,12}")


class UziMalformed(ValueError):
    """A certificate that carries the UZI subject ID (or a URA) in a form the profile does not
    allow; the message says what."""


@dataclass(frozen=True)
class UziIdentity:
    """The UZI subject ID of a certificate, and its URA."""

    oid_ca: str
    version: str
    uzi_number: str
    card_type: str
    subscriber: str
    role: str
    agb: str | None
    #: The care organisation: the permanentIdentifier's URA where present, else the
    #: subscriber number.
    ura: str

    @property
    def is_pass(self) -> bool:
        """A person's card (Z, N, M), not a server certificate."""
        return self.card_type in PASSES

    @property
    def subject_id(self) -> str:
        agb = self.agb or NO_AGB
        return (
            f"{self.oid_ca}-{self.version}-{self.uzi_number}-{self.card_type}-"
            f"{self.subscriber}-{self.role}-{agb}"
        )


def parse_subject_id(value: str, ura: str | None = None) -> UziIdentity:
    """The UZI subject ID ``value``; ``ura`` from a permanentIdentifier, if the certificate
    has one."""
    found = _SUBJECT_ID.fullmatch(value)
    if found is None:
        raise UziMalformed(
            "the UZI subject ID is not <OID-CA>-<version>-<UZI-nr>-<pastype>-<abonnee-nr>-"
            "<rol>-<AGB>"
        )
    parts = found.groupdict()
    if ura is not None and ura != parts["subscriber"]:
        raise UziMalformed("the permanentIdentifier's URA is not the subscriber number")
    return UziIdentity(
        oid_ca=parts["oid_ca"],
        version=parts["version"],
        uzi_number=parts["uzi_number"],
        card_type=parts["card_type"],
        subscriber=parts["subscriber"],
        role=parts["role"],
        agb=None if parts["agb"] == NO_AGB else parts["agb"],
        ura=ura or parts["subscriber"],
    )


def _other_names(cert: x509.Certificate, type_id: str) -> list[bytes]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    except ValueError as error:  # an extension cryptography cannot read
        raise UziMalformed("the subjectAltName cannot be read") from error
    return [
        name.value
        for name in san.get_values_for_type(x509.OtherName)
        if name.type_id.dotted_string == type_id
    ]


def permanent_ura(cert: x509.Certificate) -> str | None:
    """The URA of the certificate's permanentIdentifier (assigner 2.16.528.1.1007.3.3), if it
    has one; two different ones are malformed."""
    found: set[str] = set()
    for raw in _other_names(cert, PERMANENT_IDENTIFIER_OID):
        try:
            sequence = der.read_one(raw)
            if sequence.tag != der.SEQUENCE:
                raise der.DerError("not a SEQUENCE")
            value, assigner = None, None
            for item in der.read_all(sequence.content):
                if item.tag == der.OBJECT_IDENTIFIER and assigner is None:
                    assigner = der.oid(item)
                elif value is None and assigner is None:
                    value = der.text(item)
                else:
                    raise der.DerError("unexpected field")
        except der.DerError as error:
            raise UziMalformed(f"the permanentIdentifier is not DER: {error}") from None
        if assigner != URA_ASSIGNER:
            continue
        if value is None or not _URA.fullmatch(value):
            raise UziMalformed("the permanentIdentifier's URA is not a number")
        found.add(value)
    if len(found) > 1:
        raise UziMalformed("the certificate names more than one URA")
    return next(iter(found), None)


def identity(cert: x509.Certificate) -> UziIdentity | None:
    """The UZI subject ID of ``cert`` (None if it carries none); :class:`UziMalformed` if it
    carries one (or several, or a URA) the profile does not allow."""
    values = _other_names(cert, SUBJECT_ID_OID)
    if not values:
        return None
    if len(values) > 1:
        raise UziMalformed("the certificate carries more than one UZI subject ID")
    try:
        text = der.text(der.read_one(values[0]))
    except der.DerError as error:
        raise UziMalformed(f"the UZI subject ID is not a DER string: {error}") from None
    return parse_subject_id(text, permanent_ura(cert))


def subject_id_value(subject_id: str) -> x509.OtherName:
    """The otherName that carries ``subject_id`` (for certificates made in tests and by
    ``tweestap dev cards``)."""
    return x509.OtherName(
        x509.ObjectIdentifier(SUBJECT_ID_OID), der.encode(der.IA5_STRING, subject_id.encode())
    )


def permanent_identifier(value: str, assigner: str = URA_ASSIGNER) -> x509.OtherName:
    """The RFC 4043 permanentIdentifier otherName carrying ``value`` from ``assigner``."""
    body = der.encode(der.UTF8_STRING, value.encode()) + der.encode_oid(assigner)
    return x509.OtherName(
        x509.ObjectIdentifier(PERMANENT_IDENTIFIER_OID), der.encode(der.SEQUENCE, body)
    )
