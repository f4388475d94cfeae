"""Verifying Tweestap tokens offline, signed by either zone's auth and checked against the
public keys from ``sts.keys``. Access tokens are EdDSA (Ed25519) JWTs in the RFC 9068 profile
(header ``typ: at+jwt``, ``aud``, ``client_id``): every service that accepts a bearer token
uses :meth:`TokenVerifier.signed_claims`, which refuses any other algorithm. Other JWTs (ID
tokens, logout tokens) are RS256 or EdDSA, each zone with a key of each algorithm:
:meth:`TokenVerifier.signed_jwt`. Only auth signs.

A valid signature says only that auth once issued the token: whether the session is still live
is :meth:`shared.gate.TokenGate.live_session`'s question."""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from shared.problems import forbidden

#: The algorithms auth signs with; each zone has a current key of each (ADR 0011).
SigningAlgorithm = Literal["EdDSA", "RS256"]
EDDSA: Final = "EdDSA"
RS256: Final = "RS256"
SIGNING_ALGORITHMS: tuple[SigningAlgorithm, ...] = (EDDSA, RS256)
#: The algorithm of access tokens, and the only one :meth:`TokenVerifier.signed_claims` takes.
ALGORITHM: Final = EDDSA
#: The smallest RSA modulus a key may have to be trusted (auth makes 2048-bit keys).
RSA_MIN_BITS = 2048
SESSION_SCOPE = "session"
ENROL_SCOPE = "enrol"
#: Tweestap's own authentication levels, in the ``aal`` claim (they were the ``acr`` claim's
#: before the eIDAS levels took it: :func:`aal_of` reads both).
SINGLE_FACTOR_AAL = "aal1"
TWO_FACTOR_AAL = "aal2"
FALLBACK_AAL = "aal2-fallback"
AALS = frozenset({SINGLE_FACTOR_AAL, TWO_FACTOR_AAL, FALLBACK_AAL})
AAL_CLAIM = "aal"
#: RFC 9068 §2.1: the ``typ`` header of a JWT access token (``application/at+jwt`` also counts).
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
#: The ``typ`` header of an ID token (OpenID Connect Core §2 leaves it to JWT's ``JWT``).
ID_TOKEN_TYPE = "JWT"  # noqa: S105 (a media type)
#: The ``typ`` header of a logout token (OpenID Connect Back-Channel Logout 1.0 §2.4).
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 (a media type)
#: The session's start to the microsecond (seconds since the epoch), beside ``auth_time``'s
#: whole seconds: a cutoff ends the sessions that began at or before it, and two cutoffs and a
#: login between them can fall in one second.
SESSION_START_CLAIM = "sst"
#: An application's grant session names the SSO session it came from (docs/adr/0011): when
#: either is revoked, the grant's tokens are refused (:func:`shared.gate.session_state_sql`).
SSO_SESSION_CLAIM = "ssid"


def scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The scopes a token grants (RFC 9068 ``scope``: space-separated): ``session`` for a
    person's session (and an application's grant, with its OpenID scopes), ``enrol``."""
    scope = claims.get("scope")
    return tuple(scope.split()) if isinstance(scope, str) else ()


def aal_of(claims: Mapping[str, Any]) -> str | None:
    """The token's ``aal1``/``aal2``/``aal2-fallback``: its ``aal``, or for a token signed
    before the eIDAS levels, its ``acr``."""
    for name in (AAL_CLAIM, "acr"):
        value = claims.get(name)
        if value in AALS:
            return str(value)
    return None


def is_session(claims: Mapping[str, Any]) -> bool:
    return SESSION_SCOPE in scopes(claims)


class InvalidToken(Exception):
    """Signature, key, expiry or form of a token is not acceptable."""


class UnknownKey(InvalidToken):
    """Signed with a key id this process does not know (yet)."""


class UnsupportedKey(ValueError):
    """A JWK that is not a key this deployment signs with: Ed25519 for EdDSA, RSA of at least
    :data:`RSA_MIN_BITS` bits for RS256 (its ``alg``, when present, must say which)."""


@dataclass(frozen=True)
class VerificationKey:
    """A trusted public key and the one algorithm it verifies."""

    alg: SigningAlgorithm
    key: Ed25519PublicKey | RSAPublicKey
    #: What the JWK says of the key (its public members): a key id that comes back with
    #: another key forgets every remembered token.
    fingerprint: str


def verification_key(jwk: Mapping[str, Any]) -> VerificationKey:
    """The public key of ``jwk`` and its algorithm, or :class:`UnsupportedKey`. A key verifies
    with one algorithm only: an RSA key is RS256's, an Ed25519 key EdDSA's."""
    kty, alg = jwk.get("kty"), jwk.get("alg")
    try:
        if kty == "OKP" and jwk.get("crv") == "Ed25519" and alg in (None, EDDSA):
            okp = OKPAlgorithm.from_jwk(dict(jwk))
            if isinstance(okp, Ed25519PublicKey):
                return VerificationKey(EDDSA, okp, _fingerprint(jwk))
        elif kty == "RSA" and alg in (None, RS256) and "d" not in jwk:
            rsa = RSAAlgorithm.from_jwk(dict(jwk))
            if isinstance(rsa, RSAPublicKey) and rsa.key_size >= RSA_MIN_BITS:
                return VerificationKey(RS256, rsa, _fingerprint(jwk))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        pass
    raise UnsupportedKey(
        f"not an Ed25519 (EdDSA) or RSA of at least {RSA_MIN_BITS} bits (RS256) public key"
    )


def _fingerprint(jwk: Mapping[str, Any]) -> str:
    public = {k: jwk.get(k) for k in ("kty", "crv", "x", "n", "e", "alg")}
    return json.dumps(public, sort_keys=True)


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

    Each key verifies with its own algorithm only (an RSA key RS256, an Ed25519 key EdDSA),
    whatever a token's header says; an access token is EdDSA only.

    Access tokens whose signature has been checked (or that this process signed,
    :meth:`remember`) are remembered, at most ``cache_size`` of them, least recently used
    first out: a relying service introspects, and a front end calls with, the same token many
    times, and the Ed25519 check is the largest cost of such a request. A remembered token is
    still checked for expiry, issuer and audience on every use, and the memory is forgotten
    whenever a known key goes away or changes."""

    def __init__(self, cache_size: int = 0) -> None:
        self._public: dict[str, VerificationKey] = {}
        #: The public members of each known key id: what decides whether remembered tokens stay.
        self._known: dict[str, str] = {}
        #: When each known key that retires does (seconds since the epoch), and the earliest.
        self._retire_at: dict[str, float] = {}
        self._next_retirement = math.inf
        self._cache_size = cache_size
        self._checked: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def set_public_keys(self, jwks: Iterable[Mapping[str, Any]]) -> None:
        """Every key to trust; a :class:`PublicJwk` until its ``retire_at``."""
        now = time.time()
        public: dict[str, VerificationKey] = {}
        known: dict[str, str] = {}
        retiring: dict[str, float] = {}
        for jwk in jwks:
            retire_at = _seconds(jwk.retire_at) if isinstance(jwk, PublicJwk) else None
            if retire_at is not None and retire_at <= now:
                continue
            try:
                key = verification_key(jwk)
            except UnsupportedKey:
                continue
            public[jwk["kid"]] = key
            known[jwk["kid"]] = key.fingerprint
            if retire_at is not None:
                retiring[jwk["kid"]] = retire_at
        if not self._known.items() <= known.items():
            self._checked.clear()
        self._public, self._known = public, known
        self._set_retirements(retiring)

    def add_public_key(self, jwk: Mapping[str, Any], retire_at: datetime | None = None) -> None:
        """Trust one more key until ``retire_at`` (None: until told otherwise). A key whose
        ``retire_at`` is at or before now is not added, and forgotten if it was known;
        :class:`UnsupportedKey` for a key this deployment does not sign with."""
        kid = jwk["kid"]
        retires = _seconds(retire_at)
        if retires is not None and retires <= time.time():
            self._forget({kid})
            return
        key = verification_key(jwk)
        if self._known.get(kid, key.fingerprint) != key.fingerprint:
            self._checked.clear()
        self._public = {**self._public, kid: key}
        self._known = {**self._known, kid: key.fingerprint}
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
        return _kid(_header(token))

    def signed_claims(self, token: str, issuer: str, audience: str, leeway: int) -> dict[str, Any]:
        """The claims of an access token signed EdDSA by a known key, for ``issuer`` and
        ``audience``, of type ``at+jwt``, not expired. Signature only: says nothing about the
        session. A token signed with any other algorithm (RS256 by a zone's RSA key
        included) is refused: an access token is EdDSA only."""
        self._retire_due()
        remembered = self._checked.get(token)
        if remembered is not None and _still_valid(remembered, issuer, audience, leeway):
            self._checked.move_to_end(token)
            return dict(remembered)
        try:
            decoded = self._decode(
                token,
                (ALGORITHM,),
                issuer=issuer,
                audience=audience,
                leeway=leeway,
                options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
            )
        except InvalidToken:
            self._checked.pop(token, None)
            raise
        if not is_access_token_type(decoded["header"].get("typ")):
            raise InvalidToken("not an access token (typ at+jwt)")
        claims: dict[str, Any] = decoded["payload"]
        self.remember(token, claims)
        return dict(claims)

    def signed_jwt(
        self,
        token: str,
        typ: str,
        issuer: str,
        audience: str | None,
        leeway: int,
        *,
        algorithms: Collection[str] = SIGNING_ALGORITHMS,
        verify_exp: bool = True,
    ) -> dict[str, Any]:
        """The claims of a JWT other than an access token (an ID token: ``typ`` ``JWT``; a
        logout token: ``logout+jwt``) signed by a known key of either zone with one of
        ``algorithms`` (the key's own), with header ``typ``, from ``issuer``, for
        ``audience`` (None: any), issued (``iat``) and, unless ``verify_exp`` is False (an
        ``id_token_hint`` may have expired), not expired. Never remembered, and never an
        access token: those are :meth:`signed_claims`' alone."""
        if is_access_token_type(typ):
            raise ValueError("access tokens are checked by signed_claims")
        self._retire_due()
        require = ["iat", "iss", *(["exp"] if verify_exp else []), *(["aud"] if audience else [])]
        decoded = self._decode(
            token,
            tuple(algorithms),
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            options={"require": require, "verify_exp": verify_exp, "verify_aud": bool(audience)},
        )
        if not _same_type(decoded["header"].get("typ"), typ):
            raise InvalidToken(f"not a token of type {typ}")
        claims: dict[str, Any] = decoded["payload"]
        return dict(claims)

    def _decode(self, token: str, algorithms: tuple[str, ...], **checks: Any) -> dict[str, Any]:
        """The verified header and payload of ``token``: its key is known, its header's
        ``alg`` is the key's own and one of ``algorithms``."""
        header = _header(token)
        key = self._public.get(_kid(header))
        if key is None:
            raise UnknownKey("unknown signing key")
        alg = header.get("alg")
        if alg != key.alg:
            raise InvalidToken(f"signed with {alg!s:.20} by a key that signs {key.alg}")
        if alg not in algorithms:
            raise InvalidToken(f"signed with {alg}: only {', '.join(algorithms)} here")
        try:
            decoded: dict[str, Any] = jwt.decode_complete(
                token, key.key, algorithms=[alg], **checks
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return decoded

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


def _header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("malformed token") from None
    return header


def _kid(header: dict[str, Any]) -> str:
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken("token has no key id")
    return kid


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
    return _same_type(typ, ACCESS_TOKEN_TYPE)


def _same_type(typ: object, expected: str) -> bool:
    """A ``typ`` header is a media type: case-insensitive, ``application/`` may be left out."""
    if not isinstance(typ, str):
        return False
    return typ.lower().removeprefix("application/") == expected.lower()


def require_admin(claims: dict[str, Any], practice_id: str) -> None:
    """Only rights group 1 administers, and only its own practice."""
    if claims.get("practice") != practice_id:
        raise forbidden("This token belongs to another practice.")
    if claims.get("rg") != 1:
        raise forbidden("Only the practice administrator (rights group 1) may do this.")
