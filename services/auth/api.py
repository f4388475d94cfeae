"""Request and response bodies of the auth HTTP API (DESIGN §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.auth.domain.passwords import MAX_PASSWORD_LENGTH
from shared.events import ID_PATTERN


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Password = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class LoginRequest(Body):
    practice: str = Field(pattern=ID_PATTERN)
    username: str = Field(min_length=1, max_length=100)
    password: str = Password


class NewPasswordRequest(Body):
    new_password: str = Password


class ChangePasswordRequest(Body):
    current_password: str = Password
    new_password: str = Password


class SetPasswordRequest(Body):
    password: str = Password
    temporary: bool = True


class IntrospectRequest(Body):
    token: str = Field(min_length=1, max_length=8192)


class TokenResponse(BaseModel):
    token: str
    expires_at: datetime
    renew_after: datetime
    session_expires_at: datetime
    #: Only in verify's answer after a recovery code was used: the new recovery code, shown
    #: this once (the old one no longer works).
    recovery_code: str | None = None


class ChallengeRequest(Body):
    factor: Literal["sms", "email", "certificate"]


class ChallengeResponse(BaseModel):
    factor: Literal["sms", "email", "certificate"]
    #: The masked address the code went to (``a***@example.nl``, ``+31******78``).
    sent_to: str
    #: When the code stops working.
    expires_at: datetime


class VerifyRequest(Body):
    factor: Literal["totp", "sms", "email", "recovery", "certificate"]
    #: The code (TOTP, SMS, e-mail or recovery code); required for those factors.
    code: str | None = Field(default=None, min_length=1, max_length=64)
    #: Certificate fallback (not available yet): the certificate and the signed nonce.
    certificate: str | None = Field(default=None, max_length=16384)
    signature: str | None = Field(default=None, max_length=4096)

    @model_validator(mode="after")
    def _code_for_code_factors(self) -> VerifyRequest:
        if self.factor != "certificate" and self.code is None:
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


class Introspection(BaseModel):
    """RFC 7662 fields, plus Tweestap's claims when active."""

    model_config = ConfigDict(extra="allow")

    active: bool


class Jwks(BaseModel):
    keys: list[dict[str, str]]
