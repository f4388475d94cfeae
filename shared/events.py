"""The event envelope and the schemas of the events services exchange over Kafka.

Every event travels in an :class:`Envelope`. ``id`` is the idempotency key consumers record in
their inbox; the Kafka key is ``practice:subject`` so that one entity's events keep their order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from shared.assurance import Level, PolicyKey
from shared.care_identifiers import DEZI_NUMBER_OR_NONE, URA_OR_NONE
from shared.factor_kinds import FactorKind as FactorKind  # re-exported: events name it
from shared.merge import ELEMENT, SETTING, Record, Stamp, collapse, expand
from shared.text import Text as Text  # re-exported: the one string type of events
from shared.text import is_storable
from shared.text import storable as storable

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: E.164: a plus, a country code and at most 15 digits in all.
E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"
#: A deliberately plain check: one @, no spaces, a dot in the domain.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


def utcnow() -> datetime:
    return datetime.now(UTC)


class InvalidEvent(Exception):
    """Raised by a handler (or a bound) for an event it can never apply; the consumer
    dead-letters it with the message as the reason."""


def storable_tree(value: Any, path: str = "") -> Any:
    """:func:`storable` for every key and string in a JSON value (an event's ``data``); the
    error names where the bad string is (the paths are built only then: every event made
    or read passes here)."""
    if _all_storable(value):
        return value
    return _storable_at(value, path)


def _all_storable(value: Any) -> bool:
    if isinstance(value, str):
        return is_storable(value)
    if isinstance(value, dict):
        return all(is_storable(k) and _all_storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_all_storable(item) for item in value)
    return True


def _storable_at(value: Any, path: str) -> Any:
    """The walk that names where the bad string is."""
    if isinstance(value, str):
        try:
            return storable(value)
        except ValueError as exc:
            raise ValueError(f"{path or 'value'}: {exc}") from None
    if isinstance(value, dict):
        for key, item in value.items():
            _storable_at(key, f"{path}.(key)" if path else "(key)")
            _storable_at(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _storable_at(item, f"{path}.{index}" if path else str(index))
    return value


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: Annotated[Text, Field(max_length=100)]
    source: Annotated[Text, Field(max_length=100)]
    time: datetime = Field(default_factory=utcnow)
    practice: Annotated[Text, Field(max_length=200)]
    subject: Annotated[Text, Field(max_length=500)]
    version: int = 1
    #: No NUL or lone surrogate anywhere in it: no handler could store such an event.
    data: Annotated[dict[str, Any], AfterValidator(storable_tree)] = Field(default_factory=dict)
    #: Whether the record carried a valid application tag (:mod:`shared.bus_tags`): set by
    #: the consumer, never read from the record. Only a tagged event is Tweestap's own.
    _authenticated: bool = PrivateAttr(default=False)

    @property
    def authenticated(self) -> bool:
        return self._authenticated

    def mark_authenticated(self) -> None:
        """The consumer found the record's tag valid."""
        self._authenticated = True

    @property
    def key(self) -> str:
        return f"{self.practice}:{self.subject}"

    @property
    def zone(self) -> str:
        return self.source.rpartition("@")[2]


class FieldStamp(BaseModel):
    """When one field was last written (:class:`shared.merge.Stamp`)."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    updated_at: datetime
    zone: Annotated[Text, Field(max_length=100)]

    @property
    def stamp(self) -> Stamp:
        return Stamp(self.version, self.updated_at, self.zone)


class Versioned(BaseModel):
    """A replicated entity's whole state. It converges field by field (:mod:`shared.merge`):
    per field, last writer wins by (version, updated_at, zone). ``version``, ``updated_at`` and
    ``zone`` are the record's stamp, the greatest of its fields'; ``stamps`` holds the fields
    last written earlier than that. Without ``stamps`` (older writers, host systems) every
    field counts as written at the record's stamp."""

    #: Fields that name the entity (never change, never stamped).
    key_fields: ClassVar[frozenset[str]] = frozenset()
    #: List fields merged per element (``stamps`` keys ``field:element``; a stamped element
    #: missing from the list was removed then) and dict fields merged per setting
    #: (``field.setting``): :func:`shared.merge.expand`.
    set_fields: ClassVar[frozenset[str]] = frozenset()
    map_fields: ClassVar[frozenset[str]] = frozenset()

    version: int = Field(ge=1)
    updated_at: datetime
    zone: Text
    stamps: dict[Text, FieldStamp] | None = None

    @classmethod
    def merged_fields(cls) -> frozenset[str]:
        return (
            frozenset(cls.model_fields)
            - {"version", "updated_at", "zone", "stamps"}
            - (cls.key_fields)
        )

    @model_validator(mode="after")
    def _stamps_fit(self) -> Versioned:
        unknown = {
            name
            for name in set(self.stamps or {}) - self.merged_fields()
            if not any(
                name.startswith(f + ELEMENT) and len(name) > len(f) + 1 for f in self.set_fields
            )
            and not any(
                name.startswith(f + SETTING) and len(name) > len(f) + 1 for f in self.map_fields
            )
        }
        if unknown:
            raise ValueError(f"stamps of unknown fields: {sorted(unknown)}")
        if any(s.stamp > self.stamp for s in (self.stamps or {}).values()):
            raise ValueError("a field's stamp is newer than the record's")
        return self

    @property
    def stamp(self) -> Stamp:
        return Stamp(self.version, self.updated_at, self.zone)

    def field_stamps(self) -> dict[str, Stamp]:
        return {name: s.stamp for name, s in (self.stamps or {}).items()}

    def values(self) -> dict[str, Any]:
        """The merged fields' values (nested models as dicts)."""
        return self.model_dump(include=set(self.merged_fields()))

    def state(self) -> Record:
        """The merged state (sets and maps per element: :func:`shared.merge.expand`)."""
        return expand(
            self.values(), self.stamp, self.field_stamps(), self.set_fields, self.map_fields
        )


def stamped(state: Record, of: type[Versioned] | None = None) -> dict[str, Any]:
    """An event's values and stamps from a merged state (for ``Event(key=…, **stamped(…))``);
    ``of``: the event class, whose set and map fields ``state`` holds per element."""
    stamp = state.stamp
    values, stamps = collapse(state, of.set_fields if of else (), of.map_fields if of else ())
    own = {
        name: FieldStamp(version=s.version, updated_at=s.updated_at, zone=s.zone)
        for name, s in stamps.items()
    }
    return {
        **values,
        "version": stamp.version,
        "updated_at": stamp.updated_at,
        "zone": stamp.zone,
        "stamps": own or None,
    }


class PasswordPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_strength: int = Field(default=50, ge=0, le=100)
    change_after_days: int = Field(default=0, ge=0, le=3650)
    warn_before_days: int = Field(default=14, ge=0, le=3650)
    disable_after_days: int = Field(default=0, ge=0, le=3650)
    max_attempts: int = Field(default=5, ge=1, le=100)
    lockout_seconds: int = Field(default=1800, ge=1, le=7 * 24 * 3600)
    history: int = Field(default=20, ge=0, le=50)
    #: Certificate fallback logins allowed per employee per 30 days (0: no fallback).
    fallback_max_uses: int = Field(default=3, ge=0, le=30)


class PracticeUpserted(Versioned):
    """``directory.practices``: practice settings (``type: practice.upserted``). Each
    password policy setting merges on its own (``stamps`` key ``password_policy.<setting>``)."""

    map_fields: ClassVar[frozenset[str]] = frozenset({"password_policy", "assurance"})

    name: Text = Field(min_length=1, max_length=200)
    email: Text | None = None
    two_factor_required: bool = False
    password_policy: PasswordPolicy = Field(default_factory=PasswordPolicy)
    #: The lowest assurance level a login must have (``minimum``), and per rights group
    #: (``"1"`` … ``"9"``): shared/assurance.py. Each key merges on its own.
    assurance: dict[PolicyKey, Level] = Field(default_factory=dict)
    #: The practice's URA (care provider number, OID 2.16.528.1.1007.3.3: eight digits), what
    #: a Dezi or UZI-pas login must act for (docs/adr/0014). ``""``: recorded as none; left
    #: out (null): not stated, the stored one stays (writers that do not know it).
    ura: Text | None = Field(default=None, max_length=8, pattern=URA_OR_NONE)


class EmployeeUpserted(Versioned):
    """``directory.employees``: an employee (``type: employee.upserted``). No BSN in clear:
    only its keyed hash. Every consumer validates the same way, so an event one service
    rejects (dead letter) changes nothing anywhere."""

    key_fields: ClassVar[frozenset[str]] = frozenset({"employee"})

    employee: Text = Field(pattern=ID_PATTERN)
    username: Text = Field(min_length=1, max_length=100)
    name: Text = Field(min_length=1, max_length=200)
    email: Text | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    phone: Text | None = Field(default=None, pattern=E164_PATTERN)
    birth_date: date | None = None
    bsn_hash: Text | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    rights_group: int = Field(ge=1, le=9)
    in_service: bool = True
    #: The employee's Dezi/UZI number (OID 2.16.528.1.1007.3.1), what a Dezi or UZI-pas login
    #: finds them by (docs/adr/0014). ``""``: recorded as none; left out (null): not stated,
    #: the stored one stays (host systems do not know it).
    dezi_number: Text | None = Field(default=None, max_length=20, pattern=DEZI_NUMBER_OR_NONE)

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= utcnow().date():
            raise ValueError("birth date must lie between 1900-01-01 and today")
        return value


def credential_aad(practice: str, employee: str) -> str:
    """Associated data of a sealed :class:`PasswordCredential`."""
    return f"credential:{practice}:{employee}"


class PasswordCredential(Versioned):
    """``auth.credentials`` (compacted): an employee's password hash and history, sealed.
    Every change writes every field (a new password), so it merges as a whole record."""

    key_fields: ClassVar[frozenset[str]] = frozenset({"employee"})

    employee: Text = Field(pattern=ID_PATTERN)
    sealed: Text
    changed_at: datetime
    must_change: bool
    strength: int = Field(ge=0, le=100)


class SigningKeyPublished(BaseModel):
    """``sts.keys`` (compacted): a zone's public signing key as a JWK."""

    kid: Text
    zone: Text
    jwk: dict[Text, Text]
    created_at: datetime
    #: After this the key is gone from every JWKS (no token it signed can still be valid).
    retire_at: datetime | None = None


FACTOR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


class FactorCredential(Versioned):
    """``factors`` (compacted, key ``practice:factor``): one second factor of an employee.

    ``sealed`` opens (associated data :func:`factor_aad`) to JSON: ``{"secret": base32}`` for
    totp, ``{"hash": sha256-hex}`` for a recovery code, ``{"to": address}`` for sms/email, and
    for a passkey ``{"credential_id": base64url, "public_key": base64url COSE key,
    "sign_count": int, "transports": [str], "user_verified": bool, "name": str}`` (sealed too:
    a forger without the keyring cannot plant a key that would let them log in).
    A deactivated factor stays as ``active: false`` (the latest state per key)."""

    key_fields: ClassVar[frozenset[str]] = frozenset({"factor"})

    factor: Text = Field(pattern=FACTOR_ID_PATTERN)
    employee: Text = Field(pattern=ID_PATTERN)
    kind: FactorKind
    sealed: Text
    active: bool
    created_at: datetime
    #: TOTP: the time step of the code that confirmed the enrolment; it is spent.
    confirmed_step: int | None = None


def recovery_factor_id(employee: str) -> str:
    """An employee has one recovery code at a time: a new one replaces it under this id."""
    return f"rc.{employee}"


def factor_aad(practice: str, employee: str, factor: str) -> str:
    return f"factor:{practice}:{employee}:{factor}"


CertificateKind = Literal["uzi", "vecozo", "other"]
CertificateType = Literal["personal", "public"]


class CertificateUpserted(Versioned):
    """``certs.events`` (``type: certificate.upserted``, subject = the certificate's ``nr``):
    the whole state of an imported certificate, last writer wins. The certificate itself (PEM,
    public) travels so that auth can check fallback signatures; the private key never does.
    ``removed`` marks a deleted certificate. ``grants`` merges per employee (``stamps`` key
    ``grants:<employee>``; a stamped employee missing from the list was revoked then), so a
    revocation survives a concurrent grant to someone else."""

    key_fields: ClassVar[frozenset[str]] = frozenset({"nr"})
    set_fields: ClassVar[frozenset[str]] = frozenset({"grants"})

    nr: Text = Field(pattern=ID_PATTERN)
    fingerprint: Text = Field(pattern=r"^[0-9a-f]{64}$")
    certificate_pem: Text
    subject: Text
    issuer: Text
    serial_number: Text
    not_before: datetime
    not_after: datetime
    kind: CertificateKind
    type: CertificateType = "personal"
    services: list[Text] = Field(default_factory=list)
    agb_code: Text | None = Field(default=None, pattern=r"^[0-9]{8}$")
    #: Employees granted the certificate (a Personal certificate is usable only by these).
    grants: list[Text] = Field(default_factory=list)
    removed: bool = False


class Actor(BaseModel):
    """Who did what an event records (NEN 7513 / IHE ATNA; :mod:`shared.actors`): the
    employee (None for a username that names nobody), their rights group, the client
    address of the request. Optional ``actor`` of the data of ``login.failed``,
    ``account.locked``, ``login.succeeded``, ``password.changed``, ``fallback.used``,
    ``practice.upserted``, ``employee.upserted``, ``factor.enrolled``, ``factor.deactivated``
    and ``certificate.upserted`` (beside the state's fields there, with ``change``: what the
    write did); events without it stay valid."""

    user: Text | None = Field(default=None, max_length=100)
    rights_group: int | None = None
    address: Text | None = Field(default=None, max_length=100)


class FallbackUsed(BaseModel):
    """``auth.events`` (``type: fallback.used``): a certificate fallback login. The zones
    count an employee's uses per 30 days as a set of these (the envelope id is the use)."""

    employee: Text = Field(pattern=ID_PATTERN)
    username: Text
    certificate: Text
    fingerprint: Text
    zone: Text
    #: Uses left in the 30-day period after this one (in the writer's view).
    uses_left: int
    actor: Actor | None = None


#: ``token_reused``: an application's code or refresh token presented again (its grant ends,
#: docs/adr/0011); ``client_revoked``: an application revoked its grant (RFC 7009).
RevocationReason = Literal[
    "logout",
    "admin",
    "out_of_service",
    "deactivated",
    "password_changed",
    "token_reused",
    "client_revoked",
]


class SessionRevoked(BaseModel):
    """``sts.revocations``: a session (``sid``) revoked until its absolute end."""

    sid: Text
    employee: Text
    revoked_at: datetime
    session_expires_at: datetime
    reason: RevocationReason = "logout"


class SessionsRevoked(BaseModel):
    """``sts.revocations`` (``type: sessions.revoked``): every session of an employee that
    started at or before ``before`` ends (admin deactivation, out of service). Merged as a
    max-register per employee."""

    employee: Text = Field(pattern=ID_PATTERN)
    before: datetime
    reason: RevocationReason


#: ``backchannel``: an OpenID Connect Back-Channel Logout token POSTed to a client's URI.
Channel = Literal["email", "sms", "backchannel"]
Locale = Literal["nl", "en"]
#: The one template name of the ``backchannel`` channel (it has no template: the body is the
#: token), and the sealed name of its token.
BACKCHANNEL_TEMPLATE = "backchannel_logout"
LOGOUT_TOKEN = "logout_token"  # noqa: S105 (a parameter name, not a secret)
#: An e-mail address or phone number is at most this long; a back-channel logout URI at most
#: as long as a client may register one (auth's ``MAX_URI``).
MAX_ADDRESS = 254
MAX_BACKCHANNEL_URI = 2000


class NotifyRequest(BaseModel):
    """``notify.requests`` (``type: notify.requested``): a message to deliver once.

    The envelope id is the request id. Secrets (codes, a logout token) go in ``sealed``, each
    sealed with associated data :func:`notify_aad`, and are opened only by the notifier.

    A ``backchannel`` request has the template :data:`BACKCHANNEL_TEMPLATE`, the client's
    back-channel logout URI as ``recipient``, no ``parameters`` and exactly one sealed value,
    :data:`LOGOUT_TOKEN`; no other channel uses that template."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    template: Text = Field(pattern=r"^[a-z_]{1,50}$")
    locale: Locale = "nl"
    recipient: Text = Field(min_length=3, max_length=MAX_BACKCHANNEL_URI)
    parameters: dict[Text, Text | int] = Field(default_factory=dict)
    sealed: dict[Text, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fits_its_channel(self) -> NotifyRequest:
        if self.channel != "backchannel":
            if len(self.recipient) > MAX_ADDRESS:
                raise ValueError(f"recipient: at most {MAX_ADDRESS} characters")
            if self.template == BACKCHANNEL_TEMPLATE:
                raise ValueError(f"template {BACKCHANNEL_TEMPLATE} is for channel backchannel")
            return self
        if self.template != BACKCHANNEL_TEMPLATE:
            raise ValueError(f"channel backchannel: template must be {BACKCHANNEL_TEMPLATE}")
        if self.parameters:
            raise ValueError("channel backchannel: no parameters")
        if set(self.sealed) != {LOGOUT_TOKEN}:
            raise ValueError(f"channel backchannel: sealed must hold {LOGOUT_TOKEN} alone")
        return self


def notify_aad(practice: str, request_id: uuid.UUID, name: str) -> str:
    return f"notify:{practice}:{request_id}:{name}"


class NotifyResult(BaseModel):
    """``notify.results``: how a request ended."""

    request_id: uuid.UUID
    channel: Channel
    status: Literal["delivered", "failed"]
    attempts: int
    latency_ms: float | None = None
    reason: Text | None = None
