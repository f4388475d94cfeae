"""The event envelope and the schemas of the events services exchange over Kafka.

Every event travels in an :class:`Envelope`. ``id`` is the idempotency key consumers record in
their inbox; the Kafka key is ``practice:subject`` so that one entity's events keep their order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    source: str
    time: datetime = Field(default_factory=utcnow)
    practice: str
    subject: str
    version: int = 1
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.practice}:{self.subject}"

    @property
    def zone(self) -> str:
        return self.source.rpartition("@")[2]


class Versioned(BaseModel):
    """Replicated entities converge by last writer wins: (version, updated_at, zone)."""

    version: int = Field(ge=1)
    updated_at: datetime
    zone: str


class PasswordPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_strength: int = Field(default=50, ge=0, le=100)
    change_after_days: int = Field(default=0, ge=0, le=3650)
    warn_before_days: int = Field(default=14, ge=0, le=3650)
    disable_after_days: int = Field(default=0, ge=0, le=3650)
    max_attempts: int = Field(default=5, ge=1, le=100)
    lockout_seconds: int = Field(default=1800, ge=1, le=7 * 24 * 3600)
    history: int = Field(default=20, ge=0, le=50)


class PracticeUpserted(Versioned):
    """``directory.practices``: practice settings (``type: practice.upserted``)."""

    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    two_factor_required: bool = False
    password_policy: PasswordPolicy = Field(default_factory=PasswordPolicy)


class EmployeeUpserted(Versioned):
    """``directory.employees``: an employee (``type: employee.upserted``). No BSN in clear."""

    employee: str = Field(pattern=ID_PATTERN)
    username: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    bsn_hash: str | None = None
    rights_group: int = Field(ge=1, le=9)
    in_service: bool = True


class PasswordCredential(Versioned):
    """``auth.credentials`` (compacted): an employee's password hash and history, sealed."""

    employee: str = Field(pattern=ID_PATTERN)
    sealed: str
    changed_at: datetime
    must_change: bool
    strength: int = Field(ge=0, le=100)


class SigningKeyPublished(BaseModel):
    """``sts.keys`` (compacted): a zone's public signing key as a JWK."""

    kid: str
    zone: str
    jwk: dict[str, str]
    created_at: datetime
    #: After this the key is gone from every JWKS (no token it signed can still be valid).
    retire_at: datetime | None = None


RevocationReason = Literal["logout", "admin", "out_of_service", "deactivated"]


class SessionRevoked(BaseModel):
    """``sts.revocations``: a session (``sid``) revoked until its absolute end."""

    sid: str
    employee: str
    revoked_at: datetime
    session_expires_at: datetime
    reason: RevocationReason = "logout"


Channel = Literal["email", "sms"]
Locale = Literal["nl", "en"]


class NotifyRequest(BaseModel):
    """``notify.requests`` (``type: notify.requested``): a message to deliver once.

    The envelope id is the request id. Secrets (codes) go in ``sealed``, each sealed with
    associated data :func:`notify_aad`, and are opened only by the notifier."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    template: str = Field(pattern=r"^[a-z_]{1,50}$")
    locale: Locale = "nl"
    recipient: str = Field(min_length=3, max_length=254)
    parameters: dict[str, str | int] = Field(default_factory=dict)
    sealed: dict[str, str] = Field(default_factory=dict)


def notify_aad(practice: str, request_id: uuid.UUID, name: str) -> str:
    return f"notify:{practice}:{request_id}:{name}"


class NotifyResult(BaseModel):
    """``notify.results``: how a request ended."""

    request_id: uuid.UUID
    channel: Channel
    status: Literal["delivered", "failed"]
    attempts: int
    latency_ms: float | None = None
    reason: str | None = None
