"""Passkey registration rules (WebAuthn), without I/O: the employee's opaque user handle, when a
registration's challenge may be answered, and the credential as the ``factors`` topic carries
it (sealed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

#: What a passkey is called when the employee gives no name.
DEFAULT_NAME = "Passkey"

Refusal = Literal["unknown-registration", "registration-used", "registration-expired"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def user_handle(key: bytes, practice: str, employee: str) -> bytes:
    """The WebAuthn ``user.id`` of an employee: stable (an authenticator keeps one passkey per
    account and RP) and opaque — a keyed hash, so it reveals neither the employee id nor the
    username, and is the same in both zones."""
    return hmac.new(key, f"webauthn-user:{practice}:{employee}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Registration:
    """A registration's challenge as stored: single use, answered before ``expires_at``."""

    challenge: bytes
    expires_at: datetime
    used: bool


def registration_refusal(registration: Registration | None, now: datetime) -> Refusal | None:
    """Why a registration's answer is refused before it is even verified, or None."""
    if registration is None:
        return "unknown-registration"
    if registration.used:
        return "registration-used"
    if now >= registration.expires_at:
        return "registration-expired"
    return None


def credential_body(
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    transports: list[str],
    user_verified: bool,
    name: str | None,
) -> dict[str, Any]:
    """What a passkey's ``sealed`` opens to (``shared.events.FactorCredential``)."""
    return {
        "credential_id": b64url(credential_id),
        "public_key": b64url(public_key),
        "sign_count": sign_count,
        "transports": transports,
        "user_verified": user_verified,
        "name": name or DEFAULT_NAME,
    }
