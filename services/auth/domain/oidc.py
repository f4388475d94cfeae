"""What the OpenID Provider hands an application, as sealed self-contained values — pure, no
I/O (docs/adr/0011).

- An authorization code: the SSO session it came from (subject, practice, rights group,
  ``auth_time``, ``acr``, ``amr``), the request it answers (client, redirect URI, PKCE
  challenge, nonce, scope), 60 s of life and an id that is spent once.
- A refresh token: its grant session (the family), the SSO session, its generation, the client
  and what a new access token needs; never valid past the session's cap.

Both are AES-GCM seals under the deployment's keyring, so either zone opens them at once; only
the spending of a code and a family's current generation are state (tables ``oidc_*``)."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from services.auth.domain import tokens
from shared.assurance import LEVELS, Level
from shared.sealing import Keyring, SealingError

#: A code is redeemable this long (RFC 6749 §4.1.2: "a maximum lifetime of 10 minutes is
#: RECOMMENDED"; OpenID's certification profiles expect far less).
CODE_SECONDS: Final = 60
#: A pushed request's ``request_uri`` is usable this long (RFC 9126 §2.2: "short").
PUSHED_SECONDS: Final = 60
_CODE_AAD: Final = "oidc:code"
_REFRESH_AAD: Final = "oidc:refresh"
_PUSHED_AAD: Final = "oidc:pushed:"


class Unusable(Exception):
    """A code, refresh token or pushed request that is forged, damaged, expired or not this
    client's: the answer is ``invalid_grant`` (or ``invalid_request_uri``), with no detail
    that helps a guesser."""


@dataclass(frozen=True)
class SsoSession:
    """What a code carries of the session the browser logged in with."""

    sid: str
    practice: str
    employee: str
    rights_group: int
    amr: tuple[str, ...]
    aal: str
    auth_time: datetime
    level: Level

    @classmethod
    def from_session(cls, session: tokens.Session) -> SsoSession:
        return cls(
            session.sid,
            session.practice,
            session.employee,
            session.rights_group,
            session.amr,
            session.aal,
            session.auth_time,
            session.level,
        )

    def grant_session(self, client_id: str, scope: tuple[str, ...]) -> tokens.Session:
        """The new session of one application's grant: its own sid, this session's
        ``auth_time``, ``aal``, level and ``amr``, linked to it (``ssid``), to the client and its
        ``scope``."""
        return tokens.Session(
            sid=uuid.uuid4().hex,
            practice=self.practice,
            employee=self.employee,
            rights_group=self.rights_group,
            amr=self.amr,
            aal=self.aal,
            auth_time=self.auth_time,
            level=self.level,
            client_id=client_id,
            sso_sid=self.sid,
            scope=scope,
        )


@dataclass(frozen=True)
class Code:
    id: str
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    code_challenge: str
    nonce: str | None
    sso: SsoSession
    expires_at: datetime


def new_code(
    sso: SsoSession,
    client_id: str,
    redirect_uri: str,
    scope: tuple[str, ...],
    code_challenge: str,
    nonce: str | None,
    now: datetime,
) -> Code:
    expires_at = now + timedelta(seconds=CODE_SECONDS)
    return Code(
        secrets.token_urlsafe(16),
        client_id,
        redirect_uri,
        scope,
        code_challenge,
        nonce,
        sso,
        expires_at,
    )


def seal_code(keyring: Keyring, code: Code) -> str:
    return keyring.seal(_dump(_fields(code)), _CODE_AAD)


def open_code(keyring: Keyring, value: str, client_id: str, now: datetime) -> Code:
    """The code in ``value`` if it opens, is ``client_id``'s and has not expired."""
    raw = _load(keyring, value, _CODE_AAD)
    try:
        sso = _sso(raw.pop("sso"))
        code = Code(
            **{**raw, "scope": tuple(raw["scope"]), "expires_at": _time(raw["expires_at"])},
            sso=sso,
        )
    except (KeyError, TypeError, ValueError):
        raise Unusable("malformed") from None
    if code.client_id != client_id or now >= code.expires_at:
        raise Unusable("not this client's, or expired")
    return code


@dataclass(frozen=True)
class RefreshToken:
    """One generation of a grant's refresh tokens. ``token_id`` is unique per token, so two
    zones that each rotated the same generation are told apart (a fork: a reuse)."""

    grant_sid: str
    sso: SsoSession
    client_id: str
    scope: tuple[str, ...]
    generation: int
    token_id: str
    session_expires_at: datetime

    def next(self) -> RefreshToken:
        return replace(self, generation=self.generation + 1, token_id=secrets.token_urlsafe(12))


def first_refresh(
    grant_sid: str,
    sso: SsoSession,
    client_id: str,
    scope: tuple[str, ...],
    session_expires_at: datetime,
) -> RefreshToken:
    return RefreshToken(
        grant_sid, sso, client_id, scope, 1, secrets.token_urlsafe(12), session_expires_at
    )


def seal_refresh(keyring: Keyring, token: RefreshToken) -> str:
    return keyring.seal(_dump(_fields(token)), _REFRESH_AAD)


def open_refresh(keyring: Keyring, value: str, client_id: str, now: datetime) -> RefreshToken:
    """The refresh token in ``value`` if it opens, is ``client_id``'s and its session has not
    reached its cap."""
    raw = _load(keyring, value, _REFRESH_AAD)
    try:
        token = RefreshToken(
            **{
                **raw,
                "sso": _sso(raw["sso"]),
                "scope": tuple(raw["scope"]),
                "session_expires_at": _time(raw["session_expires_at"]),
            }
        )
    except (KeyError, TypeError, ValueError):
        raise Unusable("malformed") from None
    if token.client_id != client_id or now >= token.session_expires_at:
        raise Unusable("not this client's, or past the session's end")
    return token


def reused(presented: RefreshToken, generation: int | None, token_id: str | None) -> bool:
    """Whether presenting ``presented`` is a reuse, given the family's current ``generation``
    and ``token_id`` here (None: this zone has not seen the family yet). The current token
    rotates, and so does a newer one (the other zone rotated and its news has not arrived);
    an older generation, or the current one with another id (both zones rotated the same
    generation: one of the two tokens was stolen), is a reuse."""
    if generation is None or presented.generation > generation:
        return False
    return presented.generation < generation or presented.token_id != token_id


def seal_pushed(keyring: Keyring, client_id: str, parameters: dict[str, str], now: datetime) -> str:
    """A pushed authorization request's ``request_uri`` value (RFC 9126): its parameters
    sealed for ``client_id``, until :data:`PUSHED_SECONDS` from ``now``."""
    expires = int(now.timestamp()) + PUSHED_SECONDS
    body = {"parameters": parameters, "exp": expires}
    return keyring.seal(_dump(body), _PUSHED_AAD + client_id)


def open_pushed(keyring: Keyring, value: str, client_id: str, now: datetime) -> dict[str, str]:
    raw = _load(keyring, value, _PUSHED_AAD + client_id)
    parameters, expires = raw.get("parameters"), raw.get("exp")
    if not isinstance(parameters, dict) or not isinstance(expires, int):
        raise Unusable("malformed")
    if now.timestamp() >= expires:
        raise Unusable("expired")
    return {str(k): str(v) for k, v in parameters.items()}


def _sso(raw: dict[str, Any]) -> SsoSession:
    if raw.get("level") not in LEVELS:
        raise ValueError("no level")
    return SsoSession(
        **{**raw, "amr": tuple(raw["amr"]), "auth_time": _time(raw["auth_time"])},
    )


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass's fields, a nested one's as a dict too: ``asdict`` without its deep copy
    (a third of the token endpoint's CPU; the values here are immutable)."""
    return {
        name: _fields(field) if is_dataclass(field) else field
        for name in value.__dataclass_fields__
        for field in (getattr(value, name),)
    }


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, default=_encode, separators=(",", ":")).encode()


def _encode(value: object) -> object:
    """Times as ISO 8601 to the microsecond: a session's start is compared to cutoffs exactly."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("not a time")
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("a time without its zone")
    return at.astimezone(UTC)


def _load(keyring: Keyring, value: str, aad: str) -> dict[str, Any]:
    if len(value) > 8192:
        raise Unusable("too long")
    try:
        raw = json.loads(keyring.open(value, aad))
    except (SealingError, ValueError):
        raise Unusable("does not open") from None
    if not isinstance(raw, dict):
        raise Unusable("malformed")
    return raw
