"""Relying services registered to introspect tokens (RFC 7662 §2.1) — pure, no I/O.

A client authenticates with HTTP Basic ``client_id:client_secret`` (RFC 6749 §2.3.1). The
secret is 256 random bits, shown once; only its SHA-256 is kept. A fast hash is enough for a
secret with that much entropy (nobody can guess it from the hash), and a slow one (argon2,
19 MiB and tens of milliseconds a check) would make every introspection — the relying
services' hot path — a lever to exhaust auth's memory and CPU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import ClassVar
from urllib.parse import unquote_plus

from pydantic import Field

from shared.events import ID_PATTERN, Versioned

#: Bytes of randomness in a client secret (256 bits).
SECRET_BYTES = 32
#: The Envelope ``practice`` of client events: clients belong to the deployment, not to a
#: practice (not a valid practice id, so its Kafka keys never meet a practice's).
DEPLOYMENT = "-"
CLIENT_EVENT = "client.upserted"


class ClientState(Versioned):
    """A client's whole state; it travels sealed on ``auth.credentials`` (the sealing keyring
    authenticates it, DESIGN §9), so a forger without the keyring cannot register one. It
    merges field by field: a removal (``active``) survives a concurrent new secret."""

    key_fields: ClassVar[frozenset[str]] = frozenset({"client_id"})

    client_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    secret_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    active: bool = True


def client_aad(client_id: str) -> str:
    """Associated data of a sealed :class:`ClientState`."""
    return f"client:{client_id}"


def subject(client_id: str) -> str:
    """The Envelope ``subject`` (and so the compaction key) of a client's events."""
    return f"client:{client_id}"


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, hashed: str | None) -> bool:
    """Constant time; ``hashed`` None (no such client) compares against a dummy too."""
    expected = hashed or "0" * 64
    return hmac.compare_digest(secret_hash(secret), expected) and hashed is not None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from an ``Authorization: Basic`` header (each part
    form-urlencoded, RFC 6749 §2.3.1), or None if there is none or it is malformed."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        return None
    return unquote_plus(client_id), unquote_plus(secret)
