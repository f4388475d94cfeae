"""Request and response bodies of the enrolment HTTP API (DESIGN §7).

Updates (``PUT``) are partial: a field left out keeps its current value. Where a field may be
removed, ``null`` removes it (a practice's or employee's ``email``, a practice's ``ura``, an
employee's ``phone``, ``birth_date`` and ``dezi_number``); a BSN is never removed (host
systems publish employees without it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from shared.assurance import Level, PolicyKey
from shared.care_identifiers import DEZI_NUMBER_PATTERN, URA_PATTERN
from shared.events import (
    E164_PATTERN,
    EMAIL_PATTERN,
    FactorKind,
    PasswordPolicy,
    Text,
    utcnow,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Email = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
Phone = Field(default=None, max_length=20, pattern=E164_PATTERN)
#: What a person may type as a BSN (the service checks it further: eleven-test).
Bsn = Field(default=None, min_length=1, max_length=20)
Code = Field(min_length=1, max_length=64)


def _plain_phone(value: object) -> object:
    """``+31 6 1234-5678`` → ``+31612345678`` (E.164 is checked after this)."""
    if isinstance(value, str):
        return "".join(c for c in value if c not in " -.()")
    return value


def _plausible(value: date | None) -> date | None:
    if value is not None and not date(1900, 1, 1) <= value <= utcnow().date():
        raise ValueError("birth date must lie between 1900-01-01 and today")
    return value


class PolicyUpdate(Body):
    """Password policy fields to change (the same bounds as the policy itself)."""

    min_strength: int | None = Field(default=None, ge=0, le=100)
    change_after_days: int | None = Field(default=None, ge=0, le=3650)
    warn_before_days: int | None = Field(default=None, ge=0, le=3650)
    disable_after_days: int | None = Field(default=None, ge=0, le=3650)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    lockout_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    history: int | None = Field(default=None, ge=0, le=50)
    fallback_max_uses: int | None = Field(default=None, ge=0, le=30)


class PracticeUpdate(Body):
    """``PUT /v1/practices/{p}``: omitted fields keep their value; ``email: null`` removes the
    address. ``confirm_incomplete`` confirms switching two factors on although employees lack
    birth date, e-mail or BSN (they cannot log in until their data is complete)."""

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    email: Text | None = Email
    two_factor_required: bool | None = None
    confirm_incomplete: bool = False
    password_policy: PolicyUpdate | None = None
    #: Assurance minimums to set (``minimum``, rights groups ``"1"``-``"9"``: ``low``,
    #: ``substantial`` or ``high``); keys not given keep their value, ``low`` asks nothing.
    assurance: dict[PolicyKey, Level] | None = None
    #: The practice's URA (eight digits): what Dezi and UZI-pas logins must act for;
    #: ``null`` removes it.
    ura: Text | None = Field(default=None, max_length=8, pattern=URA_PATTERN)


class PracticeView(BaseModel):
    id: str
    name: str
    email: str | None
    two_factor_required: bool
    password_policy: PasswordPolicy
    assurance: dict[str, Level]
    version: int
    updated_at: datetime
    ura: str | None = None


class EmployeeUpdate(Body):
    """``PUT /v1/practices/{p}/employees/{e}``: creates or updates. A new employee needs
    ``username`` and ``name``; ``rights_group`` defaults to 2, ``in_service`` to true. The BSN
    is checked (eleven-test) and kept only as a keyed hash; left out, the stored one stays."""

    username: Text | None = Field(default=None, min_length=1, max_length=100)
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    birth_date: date | None = None
    email: Text | None = Email
    bsn: Text | None = Bsn
    phone: Text | None = Phone
    rights_group: int | None = Field(default=None, ge=1, le=9)
    in_service: bool | None = None
    #: The employee's Dezi/UZI number (digits), what a Dezi or UZI-pas login finds them by;
    #: unique within the practice (409 ``dezi-number-taken``); ``null`` removes it.
    dezi_number: Text | None = Field(default=None, max_length=20, pattern=DEZI_NUMBER_PATTERN)

    _phone = field_validator("phone", mode="before")(_plain_phone)
    _birth = field_validator("birth_date")(_plausible)

    @field_validator("username")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        if value is not None and value != value.strip():
            raise ValueError("username may not start or end with white space")
        return value


class EmployeeView(BaseModel):
    """An employee as the administrator sees it: never the BSN or its hash."""

    employee: str
    username: str
    name: str
    birth_date: date | None
    email: str | None
    phone: str | None
    has_bsn: bool
    rights_group: int
    in_service: bool
    version: int
    updated_at: datetime
    dezi_number: str | None = None


class EmployeeListed(EmployeeView):
    """An employee in the practice's list: also their sign-in methods and a pending
    activation code (issue 25), for the administrator's overview."""

    #: The kinds of their active factors, strongest first (``totp``, ``passkey``, …).
    factor_kinds: list[str] = Field(default_factory=list)
    #: Until when the activation code last e-mailed is valid, if one is waiting for its use.
    activation_valid_until: datetime | None = None


class EmployeeList(RootModel[list[EmployeeListed]]):
    pass


class ActivationResent(BaseModel):
    """A waiting activation code replaced and mailed to the employee (never shown here)."""

    enrolment_id: str
    sent_to: str
    expires_at: datetime


class EmployeeReadiness(BaseModel):
    employee: str
    username: str
    name: str
    in_service: bool
    #: Of ``birth_date``, ``email``, ``bsn``, ``strong_factor``.
    missing: list[str]
    ready: bool


class ReadinessSummary(BaseModel):
    employees: int
    ready: int
    incomplete: int
    to_enrol: int


class Readiness(BaseModel):
    practice: str
    two_factor_required: bool
    summary: ReadinessSummary
    employees: list[EmployeeReadiness]


class EnrolmentStarted(BaseModel):
    enrolment_id: str
    #: The employee's e-mail address, masked.
    sent_to: str
    #: When the activation code expires.
    expires_at: datetime


class IdentityRequest(Body):
    activation_code: Text = Code
    birth_date: date
    bsn: Text = Field(min_length=1, max_length=20)


class IdentityAccepted(BaseModel):
    otpauth_uri: str
    #: The TOTP secret (base32) for typing into an app by hand.
    secret: str
    #: The ``otpauth_uri`` as a QR code, a standalone SVG document.
    qr_svg: str


class AppReplacementStarted(IdentityAccepted):
    """A new authenticator app for an employee who has one: the secret to scan, and the
    enrolment that its first code confirms (before ``expires_at``)."""

    enrolment_id: str
    expires_at: datetime


class CodeRequest(Body):
    code: Text = Field(min_length=1, max_length=16)


class FactorEnrolled(BaseModel):
    factor_id: str
    #: Shown only here: the one-time recovery code that replaces any earlier one.
    recovery_code: str


class FactorView(BaseModel):
    factor_id: str
    kind: FactorKind
    created_at: datetime
    #: SMS and e-mail factors: where codes go, masked.
    sent_to: str | None = None
    #: Passkeys: the name the employee gave it.
    name: str | None = None
    #: When it last passed a login (either zone, from the audit trail); none recorded: null.
    last_used_at: datetime | None = None


class FactorList(RootModel[list[FactorView]]):
    pass


class SmsFactorRequest(Body):
    """Default: the employee's phone number in the directory."""

    phone: Text | None = Phone

    _phone = field_validator("phone", mode="before")(_plain_phone)


class EmailFactorRequest(Body):
    """Default: the employee's e-mail address in the directory."""

    email: Text | None = Email


class PendingFactorView(BaseModel):
    factor_id: str
    sent_to: str
    #: When the confirmation code expires.
    expires_at: datetime
    kind: Literal["sms", "email"]


class RecoveryCode(BaseModel):
    recovery_code: str


class PasskeyOptionsRequest(Body):
    """``POST /v1/factors/passkey/options``: an empty object."""


class PasskeyOptions(BaseModel):
    #: Names the challenge when the credential comes back (single use, expires).
    registration_id: str
    #: PublicKeyCredentialCreationOptions as JSON (``PublicKeyCredential.parseCreationOptions
    #: FromJSON`` in the browser).
    options: dict[str, Any]


class AttestationResponse(BaseModel):
    """WebAuthn's own (camelCase) names, as the browser sends them."""

    model_config = ConfigDict(extra="ignore")

    clientDataJSON: Text = Field(min_length=1, max_length=8192)
    attestationObject: Text = Field(min_length=1, max_length=65536)
    transports: list[Annotated[Text, Field(max_length=32)]] | None = Field(
        default=None, max_length=16
    )


class PasskeyCredential(BaseModel):
    """A RegistrationCredential as the browser's ``PublicKeyCredential.toJSON()`` gives it
    (base64url fields; what the service does not read is ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: Text = Field(min_length=1, max_length=1400)
    rawId: Text = Field(min_length=1, max_length=1400)
    type: Literal["public-key"]
    response: AttestationResponse
    authenticatorAttachment: Text | None = Field(default=None, max_length=32)


class PasskeyRegistration(Body):
    registration_id: Text = Field(min_length=1, max_length=64)
    credential: PasskeyCredential
    #: Shown in the employee's list of factors (default "Passkey").
    name: Text | None = Field(default=None, min_length=1, max_length=100)


class FactorNameRequest(Body):
    """``PATCH /v1/factors/{id}``: a passkey's new name (bounded as at its registration)."""

    name: Text = Field(min_length=1, max_length=100)


class PasskeyView(BaseModel):
    factor_id: str
    kind: Literal["passkey"] = "passkey"
    name: str
    created_at: datetime


class DeziLinkRequest(Body):
    """``PUT /v1/dezi``: auth's signed statement (``typ`` ``dezi-link+jwt``) that this
    session's employee proved their Dezi identity just now (auth's
    ``POST /v1/upstream/dezi/link/complete``)."""

    assertion: Text = Field(min_length=1, max_length=4000)


class DeziLinked(BaseModel):
    #: The Dezi/UZI number now recorded on the employee.
    dezi_number: str
