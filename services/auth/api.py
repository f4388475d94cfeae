"""Request and response bodies of the auth HTTP API (DESIGN §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.auth.domain.passwords import MAX_PASSWORD_LENGTH
from shared import factor_kinds
from shared.assurance import Level
from shared.events import ID_PATTERN, Text
from shared.factor_kinds import ChallengedFactor, LoginFactor


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Password = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class LoginRequest(Body):
    practice: Text = Field(max_length=64, pattern=ID_PATTERN)
    username: Text = Field(min_length=1, max_length=100)
    password: Text = Password
    #: Ask a second factor even where the practice does not require one (step-up: an
    #: application's ``acr_values``); enrolment first for an employee who has none.
    second_factor: bool = False
    #: The lowest assurance level the login must reach (an application's ``acr_values`` or
    #: its own minimum): ``low``, ``substantial`` or ``high`` (ADR 0012).
    level: Level | None = None


class NewPasswordRequest(Body):
    new_password: Text = Password


class ChangePasswordRequest(Body):
    current_password: Text = Password
    new_password: Text = Password


class SetPasswordRequest(Body):
    password: Text = Password
    temporary: bool = True


class IntrospectRequest(Body):
    token: Text = Field(min_length=1, max_length=8192)


class TokenResponse(BaseModel):
    token: str
    expires_at: datetime
    renew_after: datetime
    session_expires_at: datetime
    #: Only in verify's answer after a recovery code was used: the new recovery code, shown
    #: this once (the old one no longer works).
    recovery_code: str | None = None


class ChallengeRequest(Body):
    factor: ChallengedFactor


class FallbackCertificateView(BaseModel):
    """A certificate the employee may sign the fallback nonce with."""

    nr: str
    fingerprint: str
    subject: str
    not_after: datetime


class ChallengeResponse(BaseModel):
    factor: ChallengedFactor
    #: When the code (or the nonce) stops working.
    expires_at: datetime
    #: SMS and e-mail: the masked address the code went to (``a***@example.nl``,
    #: ``+31******78``).
    sent_to: str | None = None
    #: Certificate: sign these UTF-8 bytes with the certificate's private key (RSA-PSS with
    #: SHA-256, or ECDSA with SHA-256) and send the signature, base64, to verify. Good once.
    nonce: str | None = None
    #: Certificate: the certificates the employee may use.
    certificates: list[FallbackCertificateView] | None = None
    #: Certificate: fallback logins left in the current 30-day period, this one included.
    uses_left: int | None = None
    #: Passkey: PublicKeyCredentialRequestOptions as JSON (``PublicKeyCredential.
    #: parseRequestOptionsFromJSON`` in the browser); allowCredentials = the employee's passkeys.
    options: dict[str, Any] | None = None


class AssertionResponse(BaseModel):
    """WebAuthn's own (camelCase) names, as the browser sends them (base64url)."""

    model_config = ConfigDict(extra="ignore")

    clientDataJSON: Text = Field(min_length=1, max_length=8192)
    authenticatorData: Text = Field(min_length=1, max_length=8192)
    signature: Text = Field(min_length=1, max_length=2048)
    userHandle: Text | None = Field(default=None, max_length=128)


class AssertionCredential(BaseModel):
    """An AuthenticationCredential as the browser's ``PublicKeyCredential.toJSON()`` gives it
    (what auth does not read is ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: Text = Field(min_length=1, max_length=1400)
    rawId: Text = Field(min_length=1, max_length=1400)
    type: Literal["public-key"]
    response: AssertionResponse
    authenticatorAttachment: Text | None = Field(default=None, max_length=32)


class VerifyRequest(Body):
    factor: LoginFactor
    #: The code (TOTP, SMS, e-mail or recovery code); required for those factors.
    code: Text | None = Field(default=None, min_length=1, max_length=64)
    #: Certificate fallback: the certificate's ``nr`` or SHA-256 fingerprint (hex) ...
    certificate: Text | None = Field(default=None, min_length=1, max_length=100)
    #: ... and its key's signature over the challenge's nonce (base64 or base64url).
    signature: Text | None = Field(default=None, min_length=1, max_length=4096)
    #: Passkey: the AuthenticationCredential answering the challenge's options.
    credential: AssertionCredential | None = None

    @model_validator(mode="after")
    def _what_the_factor_needs(self) -> VerifyRequest:
        answer = factor_kinds.spec(self.factor).answer
        if answer == "signature":
            if self.certificate is None or self.signature is None:
                raise ValueError(f"factor {self.factor!r} needs certificate and signature")
        elif answer == "assertion":
            if self.credential is None:
                raise ValueError(f"factor {self.factor!r} needs credential")
        elif self.code is None:
            raise ValueError(f"a code is required for factor {self.factor!r}")
        return self


class LoginResponse(BaseModel):
    login_id: str
    next: Literal["change_password", "enrol", "second_factor", "done"]
    factors: list[str]
    expires_at: datetime
    enrolment_token: str | None = None
    #: Present when ``next`` is ``done``: a password-only (aal1) practice.
    token: TokenResponse | None = None
    #: Present when the password expires within the policy's warning period.
    password_expires_at: datetime | None = None


class PasswordChanged(BaseModel):
    changed_at: datetime
    strength: int
    must_change: bool
    #: Only after an employee changed their own password (``POST /v1/password``): every
    #: session of the employee ended, this is the caller's new one (same factors and rights;
    #: the token it was asked with no longer works).
    token: TokenResponse | None = None


class Introspection(BaseModel):
    """RFC 7662 fields, plus Tweestap's claims when active."""

    model_config = ConfigDict(extra="allow")

    active: bool


class Jwks(BaseModel):
    keys: list[dict[str, str]]


class ZoneStatus(BaseModel):
    """``GET /v1/status``: this zone serves logins and tokens now."""

    zone: str
    status: Literal["serving"]
