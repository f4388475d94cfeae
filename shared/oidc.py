"""OpenID Connect's authorization request, read and checked — pure, no I/O (ADR 0011).

The web front door reads a browser's request at ``/authorize`` with :func:`read_request`, and
auth reads a pushed one (RFC 9126) with the same function, so both refuse the same things the
same way. An error says whether it may be sent back to the client's redirect URI
(:attr:`AuthorizationError.redirectable`): never while the client or its redirect URI is not
known to be right (RFC 6749 §4.1.2.1)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from shared.assurance import LEVELS, LOA, Level, rank

#: RFC 7636 §4.1: the verifier's characters and length; the S256 challenge is 43 of them.
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
#: A parameter longer than this is refused (a redirect URI, a nonce, a state...).
MAX_PARAMETER = 2048
#: The scopes Tweestap grants; ``openid`` is required, the others add claims to the ID token
#: and userinfo (OpenID Connect Core §5.4), ``offline_access`` is accepted and changes nothing
#: (every grant has a refresh token bounded by the session's cap).
OPENID: Final = "openid"
SCOPE_CLAIMS: Final[Mapping[str, tuple[str, ...]]] = {
    OPENID: ("sub", "practice"),
    "profile": ("name", "preferred_username"),
    "email": ("email",),
    "offline_access": (),
}
PROMPTS: Final = frozenset({"none", "login", "consent", "select_account"})
#: The levels an ``acr`` may name, in order: the eIDAS levels (what tokens carry, ADR 0012)
#: and Tweestap's own ``aal`` values (what they carried before). A session satisfies an
#: ``acr_values`` request when its own level is at least the lowest it names that Tweestap
#: knows.
ACR_RANK: Final[Mapping[str, int]] = {
    **{LOA[level]: rank(level) + 1 for level in LEVELS},
    "aal1": 1,
    "aal2-fallback": 2,
    "aal2": 2,
}
#: The request parameters read; any other is ignored (OpenID Connect Core §3.1.2.1).
PARAMETERS: Final = (
    *("response_type", "client_id", "redirect_uri", "scope", "state", "nonce"),
    *("code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint"),
    *("ui_locales", "acr_values", "response_mode", "request", "request_uri", "claims"),
    "display",
)
#: Where the parameters of a pushed request are named (RFC 9126 §2.2).
REQUEST_URI_PREFIX: Final = "urn:ietf:params:oauth:request_uri:"


class AuthorizationError(Exception):
    """An authorization request refused: ``error`` is RFC 6749 §4.1.2.1's or OpenID Connect
    Core §3.1.2.6's code. ``redirectable``: it may go back to the redirect URI (with ``state``
    and ``iss``); otherwise the provider shows it on its own page."""

    def __init__(self, error: str, description: str, redirectable: bool = True) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirectable = redirectable


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    code_challenge: str
    state: str | None = None
    nonce: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: tuple[str, ...] = ()
    acr_values: tuple[str, ...] = ()
    #: A pushed request (RFC 9126) that this one came from.
    pushed: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def parameters(self) -> dict[str, str]:
        """The request as the parameters it was read from (for sealing a pushed request)."""
        values: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.scope),
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
            "state": self.state,
            "nonce": self.nonce,
            "prompt": " ".join(sorted(self.prompt)) or None,
            "max_age": None if self.max_age is None else str(self.max_age),
            "login_hint": self.login_hint,
            "ui_locales": " ".join(self.ui_locales) or None,
            "acr_values": " ".join(self.acr_values) or None,
        }
        return {name: value for name, value in values.items() if value is not None}


def single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The one value of ``name``; a parameter given twice, or too long, is refused (RFC 6749
    §3.1: "request and response parameters MUST NOT be included more than once")."""
    values = params.get(name) or ()
    if len(values) > 1:
        raise AuthorizationError("invalid_request", f"{name} is given more than once")
    if not values or values[0] == "":
        return None
    value = values[0]
    if len(value) > MAX_PARAMETER or not value.isprintable():
        raise AuthorizationError("invalid_request", f"{name} is not acceptable")
    return value


def client_and_redirect(params: Mapping[str, Sequence[str]]) -> tuple[str, str | None]:
    """The client and redirect URI, read before anything may be redirected: a fault in either
    is shown at the provider (never redirected)."""
    try:
        client_id = single(params, "client_id")
        redirect_uri = single(params, "redirect_uri")
    except AuthorizationError as error:
        raise AuthorizationError(error.error, error.description, redirectable=False) from None
    if client_id is None:
        raise AuthorizationError("invalid_request", "client_id is missing", redirectable=False)
    return client_id, redirect_uri


def read_request(
    params: Mapping[str, Sequence[str]], redirect_uri: str, pushed: bool = False
) -> AuthorizationRequest:
    """The authorization request in ``params`` for a client whose registered redirect URI
    ``redirect_uri`` the caller has already matched exactly (:func:`client_and_redirect`
    first). Refused, with a redirectable error: anything but ``response_type=code`` (no
    implicit or hybrid flow), no ``openid`` scope, no S256 PKCE challenge, a JAR ``request``,
    an unknown ``response_mode``, ``prompt=none`` with another prompt, a bad ``max_age``."""
    one = {name: single(params, name) for name in PARAMETERS if name not in ("client_id",)}
    if one["request"] is not None:
        raise AuthorizationError("request_not_supported", "request objects are not supported")
    if one["request_uri"] is not None:
        raise AuthorizationError(
            "request_uri_not_supported", "request_uri is only a pushed request's (RFC 9126)"
        )
    if one["response_mode"] not in (None, "query"):
        raise AuthorizationError("invalid_request", "response_mode must be query")
    if one["response_type"] != "code":
        raise AuthorizationError(
            "unsupported_response_type", "response_type must be code (authorization code flow)"
        )
    scope = _scope(one["scope"])
    challenge = one["code_challenge"]
    if challenge is None:
        raise AuthorizationError("invalid_request", "code_challenge is required (PKCE, S256)")
    if one["code_challenge_method"] != "S256" or not _CHALLENGE.match(challenge):
        raise AuthorizationError("invalid_request", "code_challenge must be S256 (RFC 7636)")
    prompt = frozenset((one["prompt"] or "").split())
    if not prompt <= PROMPTS:
        raise AuthorizationError("invalid_request", "prompt has an unknown value")
    if "none" in prompt and len(prompt) > 1:
        raise AuthorizationError("invalid_request", "prompt=none goes alone")
    return AuthorizationRequest(
        client_id=str(single(params, "client_id")),
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge=challenge,
        state=one["state"],
        nonce=one["nonce"],
        prompt=prompt,
        max_age=_max_age(one["max_age"]),
        login_hint=one["login_hint"],
        ui_locales=tuple((one["ui_locales"] or "").split()),
        acr_values=tuple((one["acr_values"] or "").split()),
        pushed=pushed,
    )


def _scope(value: str | None) -> tuple[str, ...]:
    asked = tuple(dict.fromkeys((value or "").split()))
    if OPENID not in asked:
        raise AuthorizationError("invalid_scope", "scope must include openid")
    unknown = [name for name in asked if name not in SCOPE_CLAIMS]
    if unknown:
        raise AuthorizationError("invalid_scope", f"unknown scope: {unknown[0][:40]}")
    return asked


def _max_age(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise AuthorizationError("invalid_request", "max_age must be a number of seconds")
    return int(value)


def pkce_matches(verifier: str | None, challenge: str) -> bool:
    """Whether ``verifier`` is well formed (RFC 7636 §4.1) and its S256 is ``challenge``."""
    if verifier is None or not _VERIFIER.match(verifier):
        return False
    return bool(create_s256_code_challenge(verifier) == challenge)


def acr_satisfied(session_acr: str, requested: Iterable[str]) -> bool:
    """Whether a session at ``session_acr`` meets ``acr_values`` (their lowest known level);
    values Tweestap does not know are passed over, and none known asks nothing."""
    known = [ACR_RANK[value] for value in requested if value in ACR_RANK]
    if not known:
        return True
    return ACR_RANK.get(session_acr, 0) >= min(known)


def asked_level(requested: Iterable[str]) -> Level | None:
    """The eIDAS level an ``acr_values`` asks (the lowest it names that Tweestap knows);
    None when it names none."""
    known = [ACR_RANK[value] for value in requested if value in ACR_RANK]
    return LEVELS[min(known) - 1] if known else None


def claims_for(scope: Iterable[str], person: Mapping[str, Any]) -> dict[str, Any]:
    """The person's claims that ``scope`` names (``person``: sub, practice, name,
    preferred_username, email; a missing or empty one is left out)."""
    names = {name for one in scope for name in SCOPE_CLAIMS.get(one, ())}
    return {name: person[name] for name in sorted(names) if person.get(name) not in (None, "")}
