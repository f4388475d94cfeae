"""Request and response bodies of the auth HTTP API (DESIGN §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
