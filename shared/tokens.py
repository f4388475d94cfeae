"""Verifying Tweestap tokens offline: EdDSA (Ed25519) JWTs signed by either zone's auth, checked
against the public keys from ``sts.keys``, in the RFC 9068 profile (header ``typ: at+jwt``,
``aud``, ``client_id``). Every service that accepts a bearer token uses this; only auth signs.

A valid signature says only that auth once issued the token: whether the session is still live
is :meth:`shared.gate.TokenGate.live_session`'s question."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from shared.problems import forbidden

ALGORITHM = "EdDSA"
SESSION_SCOPE = "session"
ENROL_SCOPE = "enrol"
SINGLE_FACTOR_ACR = "aal1"
TWO_FACTOR_ACR = "aal2"
FALLBACK_ACR = "aal2-fallback"
#: RFC 9068 §2.1: the ``typ`` header of a JWT access token (``application/at+jwt`` also counts).
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
#: The session's start to the microsecond (seconds since the epoch), beside ``auth_time``'s
#: whole seconds: a cutoff ends the sessions that began at or before it, and two cutoffs and a
#: login between them can fall in one second.
SESSION_START_CLAIM = "sst"


class InvalidToken(Exception):
    """Signature, key, expiry or form of a token is not acceptable."""


class UnknownKey(InvalidToken):
    """Signed with a key id this process does not know (yet)."""


class PublicJwk(dict[str, Any]):
    """A public key as the JWKS serves it, with when it retires (:func:`shared.replicas.
    public_keys`). ``retire_at`` is not a JWK member: the JWKS stays as it was."""

    def __init__(self, jwk: Mapping[str, Any], retire_at: datetime | None = None) -> None:
        super().__init__(jwk)
        self.retire_at = retire_at


class TokenVerifier:
    """Verifies tokens with any zone's known public key.

    A key is trusted until its ``retire_at`` and never from then on (Hardening II finding 16):
    a key that is already retired is not added, and one that retires while the process runs
    is forgotten at the first verification after its ``retire_at``, without a reload.

    Tokens whose signature has been checked (or that this process signed, :meth:`remember`)
    are remembered, at most ``cache_size`` of them, least recently used first out: a relying
    service introspects, and a front end calls with, the same token many times, and the
    Ed25519 check is the largest cost of such a request. A remembered token is still checked
    for expiry, issuer and audience on every use, and the memory is forgotten whenever a
    known key goes away or changes."""

    def __init__(self, cache_size: int = 0) -> None:
        self._public: dict[str, Ed25519PublicKey] = {}
        #: The JWK ``x`` of each known key id: what decides whether remembered tokens stay.
        self._known: dict[str, str] = {}
        #: When each known key that retires does (seconds since the epoch), and the earliest.
        self._retire_at: dict[str, float] = {}
        self._next_retirement = math.inf
        self._cache_size = cache_size
        self._checked: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def set_public_keys(self, jwks: Iterable[Mapping[str, Any]]) -> None:
        """Every key to trust; a :class:`PublicJwk` until its ``retire_at``."""
        now = time.time()
        public: dict[str, Ed25519PublicKey] = {}
        known: dict[str, str] = {}
        retiring: dict[str, float] = {}
        for jwk in jwks:
            retire_at = _seconds(jwk.retire_at) if isinstance(jwk, PublicJwk) else None
            if retire_at is not None and retire_at <= now:
                continue
            key = OKPAlgorithm.from_jwk(dict(jwk))
            if isinstance(key, Ed25519PublicKey):
                public[jwk["kid"]] = key
                known[jwk["kid"]] = str(jwk.get("x"))
                if retire_at is not None:
                    retiring[jwk["kid"]] = retire_at
        if not self._known.items() <= known.items():
            self._checked.clear()
        self._public, self._known = public, known
        self._set_retirements(retiring)

    def add_public_key(self, jwk: Mapping[str, Any], retire_at: datetime | None = None) -> None:
        """Trust one more key until ``retire_at`` (None: until told otherwise). A key whose
        ``retire_at`` is at or before now is not added, and forgotten if it was known."""
        kid, x = jwk["kid"], str(jwk.get("x"))
        retires = _seconds(retire_at)
        if retires is not None and retires <= time.time():
            self._forget({kid})
            return
        key = OKPAlgorithm.from_jwk(dict(jwk))
        if isinstance(key, Ed25519PublicKey):
            if self._known.get(kid, x) != x:
                self._checked.clear()
            self._public = {**self._public, kid: key}
            self._known = {**self._known, kid: x}
            retiring = {k: t for k, t in self._retire_at.items() if k != kid}
            if retires is not None:
                retiring[kid] = retires
            self._set_retirements(retiring)

    def _set_retirements(self, retiring: dict[str, float]) -> None:
        self._retire_at = retiring
        self._next_retirement = min(retiring.values(), default=math.inf)

    def _forget(self, kids: set[str]) -> None:
        """Trust these keys no more, nor any token remembered as checked (it may be theirs)."""
        if not kids & self._known.keys():
            return
        self._public = {k: v for k, v in self._public.items() if k not in kids}
        self._known = {k: v for k, v in self._known.items() if k not in kids}
        self._set_retirements({k: t for k, t in self._retire_at.items() if k not in kids})
        self._checked.clear()

    def _retire_due(self) -> None:
        """Forget the keys whose ``retire_at`` has come (one comparison while none has)."""
        now = time.time()
        if now >= self._next_retirement:
            self._forget({kid for kid, at in self._retire_at.items() if at <= now})

    def knows(self, kid: str) -> bool:
        return kid in self._public

    def kid_of(self, token: str) -> str:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if not isinstance(kid, str):
            raise InvalidToken("token has no key id")
        return kid

    def signed_claims(self, token: str, issuer: str, audience: str, leeway: int) -> dict[str, Any]:
        """The claims of a token signed by a known key, for ``issuer`` and ``audience``, of
        type ``at+jwt``, not expired. Signature only: says nothing about the session."""
        self._retire_due()
        remembered = self._checked.get(token)
        if remembered is not None and _still_valid(remembered, issuer, audience, leeway):
            self._checked.move_to_end(token)
            return dict(remembered)
        kid = self.kid_of(token)
        key = self._public.get(kid)
        if key is None:
            raise UnknownKey("unknown signing key")
        try:
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=issuer,
                audience=audience,
                leeway=leeway,
                options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            self._checked.pop(token, None)
            raise InvalidToken(str(exc)) from None
        if not is_access_token_type(decoded["header"].get("typ")):
            raise InvalidToken("not an access token (typ at+jwt)")
        claims: dict[str, Any] = decoded["payload"]
        self.remember(token, claims)
        return dict(claims)

    def remember(self, token: str, claims: dict[str, Any]) -> None:
        """Remember ``token`` as signed, with its ``claims`` (checked, or just signed here)."""
        if self._cache_size <= 0:
            return
        self._checked[token] = dict(claims)
        self._checked.move_to_end(token)
        while len(self._checked) > self._cache_size:
            self._checked.popitem(last=False)

    @property
    def remembered(self) -> int:
        """How many tokens are remembered (for tests and metrics)."""
        return len(self._checked)

    def remembers(self, token: str) -> bool:
        return token in self._checked


def _seconds(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def _still_valid(claims: dict[str, Any], issuer: str, audience: str, leeway: int) -> bool:
    """What a remembered token must still be now: unexpired, for this issuer and audience
    (anything else goes through the full check, which names the reason)."""
    exp, aud = claims.get("exp"), claims.get("aud")
    return (
        isinstance(exp, int | float)
        and exp > time.time() - leeway
        and claims.get("iss") == issuer
        and (aud == audience or (isinstance(aud, list) and audience in aud))
    )


def session_started(claims: dict[str, Any]) -> datetime | None:
    """When the token's session began: ``sst`` (microseconds), else ``auth_time`` (a token
    signed before ``sst`` existed); None when neither is a number."""
    for name in (SESSION_START_CLAIM, "auth_time"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=UTC)
    return None


def is_access_token_type(typ: object) -> bool:
    """RFC 9068 §4: ``at+jwt`` or ``application/at+jwt``, case-insensitively."""
    if not isinstance(typ, str):
        return False
    return typ.lower().removeprefix("application/") == ACCESS_TOKEN_TYPE


def require_admin(claims: dict[str, Any], practice_id: str) -> None:
    """Only rights group 1 administers, and only its own practice."""
    if claims.get("practice") != practice_id:
        raise forbidden("This token belongs to another practice.")
    if claims.get("rg") != 1:
        raise forbidden("Only the practice administrator (rights group 1) may do this.")
