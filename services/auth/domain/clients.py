"""Registered clients — pure, no I/O: relying services that introspect tokens (RFC 7662 §2.1)
and applications that log people in through Tweestap's OpenID Provider (docs/adr/0011), with
their redirect URIs, how they authenticate and what they receive.

A confidential client authenticates with HTTP Basic ``client_id:client_secret`` (RFC 6749
§2.3.1) or, with a ``jwks_uri``, a signed assertion (``private_key_jwt``, RFC 7523); a public
client (a native app) with PKCE alone. The secret is 256 random bits, shown once; only its
SHA-256 is kept. A fast hash is enough for a
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
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal
from urllib.parse import unquote_plus, urlsplit

from pydantic import AfterValidator, Field, model_validator

from shared.assurance import Level
from shared.events import ID_PATTERN, Text, Versioned

#: Bytes of randomness in a client secret (256 bits).
SECRET_BYTES = 32
#: The Envelope ``practice`` of client events: clients belong to the deployment, not to a
#: practice (not a valid practice id, so its Kafka keys never meet a practice's).
DEPLOYMENT = "-"
CLIENT_EVENT = "client.upserted"


#: How a client proves who it is at the token endpoint.
AuthMethod = Literal["client_secret_basic", "private_key_jwt", "none"]
#: The algorithm of the ID tokens it receives (RS256: what every library accepts).
IdTokenAlg = Literal["RS256", "EdDSA"]
#: A URI a client registers: absolute, no fragment (OAuth 2.0 §3.1.2), at most this long.
MAX_URI = 2000


def registered_uri(value: str) -> str:
    """A redirect, post-logout or back-channel URI as a client may register it: absolute,
    without a fragment; ``https``, ``http`` (loopback and local deployments: production
    clients use https), or a native app's private-use scheme (``com.example.app:/cb``,
    RFC 8252 §7.1)."""
    parts = urlsplit(value)
    if not parts.scheme or parts.fragment or "#" in value:
        raise ValueError(f"{value!r}: an absolute URI without a fragment")
    if parts.scheme in ("http", "https"):
        if not parts.netloc:
            raise ValueError(f"{value!r}: no host")
    elif "." not in parts.scheme:
        raise ValueError(f"{value!r}: https, http or a private-use scheme (com.example.app:/…)")
    if any(c.isspace() for c in value) or len(value) > MAX_URI:
        raise ValueError(f"{value!r}: no spaces, at most {MAX_URI} characters")
    return value


RegisteredUri = Annotated[Text, AfterValidator(registered_uri)]


class ClientState(Versioned):
    """A client's whole state; it travels sealed on ``auth.credentials`` (the sealing keyring
    authenticates it, DESIGN §9), so a forger without the keyring cannot register one. It
    merges field by field: a removal (``active``) survives a concurrent new secret."""

    key_fields: ClassVar[frozenset[str]] = frozenset({"client_id"})

    client_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    #: None: the client has no secret (it signs assertions, or it is public).
    secret_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    active: bool = True
    #: OpenID Connect: where codes may go (exact match), where a logout may return, where a
    #: back-channel logout token is posted, how it authenticates and its ID token algorithm.
    redirect_uris: list[RegisteredUri] = Field(default_factory=list, max_length=20)
    post_logout_redirect_uris: list[RegisteredUri] = Field(default_factory=list, max_length=20)
    backchannel_logout_uri: RegisteredUri | None = None
    auth_method: AuthMethod = "client_secret_basic"
    jwks_uri: RegisteredUri | None = None
    id_token_alg: IdTokenAlg = "RS256"  # noqa: S105 (an algorithm, not a secret)
    #: The lowest assurance level of a session this application may have (ADR 0012).
    min_level: Level = "low"

    @model_validator(mode="after")
    def _authenticates_somehow(self) -> ClientState:
        needs = {"client_secret_basic": "secret_hash", "private_key_jwt": "jwks_uri"}
        field = needs.get(self.auth_method)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f"auth_method {self.auth_method} needs {field}")
        return self

    @property
    def public(self) -> bool:
        return self.auth_method == "none"


@dataclass(frozen=True)
class Registration:
    """What ``tweestap client add`` registers besides the id and name."""

    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    #: A native app: no secret, PKCE alone.
    public: bool = False
    #: Its keys, for ``private_key_jwt`` (no secret).
    jwks_uri: str | None = None
    id_token_alg: IdTokenAlg = "RS256"  # noqa: S105 (an algorithm, not a secret)
    #: The lowest assurance level of a session it accepts.
    min_level: Level = "low"

    @property
    def auth_method(self) -> AuthMethod:
        if self.public:
            return "none"
        return "private_key_jwt" if self.jwks_uri else "client_secret_basic"

    def fields(self) -> dict[str, object]:
        """The client's fields this registration sets."""
        return {
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "auth_method": self.auth_method,
            "jwks_uri": self.jwks_uri,
            "id_token_alg": self.id_token_alg,
            "min_level": self.min_level,
        }


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
