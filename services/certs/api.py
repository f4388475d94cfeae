"""Request and response bodies of the certificate store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events import ID_PATTERN, CertificateKind, CertificateType, Text

#: A service a certificate is used for (a name the practice chooses).
ServiceName = Annotated[Text, Field(min_length=1, max_length=100)]


class CertificateImport(BaseModel):
    """Either a PKCS#12 file (base64) with its password, or a PEM certificate and key (the key
    optionally encrypted with ``password``)."""

    model_config = ConfigDict(extra="forbid")

    pkcs12: Text | None = Field(default=None, max_length=200_000)
    password: Text | None = Field(default=None, max_length=1000)
    certificate_pem: Text | None = Field(default=None, max_length=100_000)
    key_pem: Text | None = Field(default=None, max_length=100_000)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        pem = self.certificate_pem is not None or self.key_pem is not None
        if (self.pkcs12 is None) == (not pem):
            raise ValueError("give either pkcs12 (and password) or certificate_pem and key_pem")
        if pem and (self.certificate_pem is None or self.key_pem is None):
            raise ValueError("certificate_pem and key_pem go together")
        return self


class CertificateUpdate(BaseModel):
    """Omitted fields keep their value; ``agb_code: null`` clears it."""

    model_config = ConfigDict(extra="forbid")

    type: CertificateType | None = None
    agb_code: Text | None = Field(default=None, max_length=8, pattern=r"^[0-9]{8}$")
    services: list[ServiceName] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _services(self) -> Self:
        for name in self.services or []:
            if not 1 <= len(name) <= 100:
                raise ValueError("a service name has 1 to 100 characters")
        return self


class UziView(BaseModel):
    number: str
    role: str | None
    subscriber: str | None
    agb: str | None
    #: The pas type (Z, N, M, S) and the URA, read from the UZI subject ID in the
    #: subjectAltName (None for a certificate that has only the subject serialNumber).
    card_type: str | None = None
    ura: str | None = None


class CertificateView(BaseModel):
    nr: str
    kind: CertificateKind
    type: CertificateType
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    serial_number: str
    serial_spaced: str
    key_type: str
    key_size: int
    fingerprint: str
    uzi: UziView | None
    agb_code: str | None
    services: list[str]
    grants: list[str]
    #: Whether this zone holds the private key (it stays in the zone that imported it).
    has_key: bool
    version: int
    updated_at: datetime


class CertificateList(BaseModel):
    certificates: list[CertificateView]


class Removed(BaseModel):
    nr: str
    removed: bool = True


class EntitlementsQuery(BaseModel):
    """``?employee=&service=`` of the entitlements route (declared in /openapi.json)."""

    employee: str = Field(pattern=ID_PATTERN)
    service: str | None = None


class Entitlements(BaseModel):
    employee: str
    service: str | None
    certificates: list[CertificateView]
