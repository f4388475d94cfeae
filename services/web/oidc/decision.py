"""Whether the SSO session answers an authorization request as it is, or the person logs in
(again, or with a second factor), or — with ``prompt=none`` — the client hears why not
(OpenID Connect Core §3.1.2.3, §3.1.2.6). Pure: the session is what its token's claims say;
auth checks that it still lives when the code is asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.assurance import LOA, Level
from shared.oidc import ACR_RANK, AuthorizationRequest, acr_satisfied

#: The lowest level Tweestap knows: a password alone.
PASSWORD_ONLY = min(ACR_RANK, key=lambda name: ACR_RANK[name])


@dataclass(frozen=True)
class Sso:
    """The browser's SSO session, as its token's claims say."""

    sid: str | None
    auth_time: float
    acr: str
    practice: str | None


@dataclass(frozen=True)
class Issue:
    """The session answers the request: ask auth for a code."""


@dataclass(frozen=True)
class Login:
    """The person logs in; ``second_factor``: with two factors even where the practice asks
    one (``acr_values`` asks more than a password)."""

    second_factor: bool


@dataclass(frozen=True)
class Refuse:
    """``prompt=none`` and a login is needed: the error goes back to the client."""

    error: str
    description: str


Verdict = Issue | Login | Refuse


def sso_of(claims: Mapping[str, Any] | None) -> Sso | None:
    """The session in a token's claims; None without a token or with unreadable claims."""
    if not claims:
        return None
    auth_time, acr = claims.get("auth_time"), claims.get("acr")
    if not isinstance(auth_time, int | float) or not isinstance(acr, str):
        return None
    sid, practice = claims.get("sid"), claims.get("practice")
    return Sso(
        sid=sid if isinstance(sid, str) else None,
        auth_time=float(auth_time),
        acr=acr,
        practice=practice if isinstance(practice, str) else None,
    )


def reaches(sso: Sso, minimum: Level) -> bool:
    """Whether the session's level (its ``acr``) is at least ``minimum``."""
    return ACR_RANK.get(sso.acr, 0) >= ACR_RANK[LOA[minimum]]


def hinted_practice(login_hint: str | None) -> str | None:
    """The practice a ``login_hint`` names: ``practice`` or ``username@practice``."""
    if not login_hint:
        return None
    return login_hint.rsplit("@", 1)[-1] or None


def wants_second_factor(request: AuthorizationRequest) -> bool:
    """Whether ``acr_values`` asks more than a password (a step-up login)."""
    return not acr_satisfied(PASSWORD_ONLY, request.acr_values)


def decide(
    request: AuthorizationRequest,
    sso: Sso | None,
    fresh: bool,
    now: float,
    minimum: Level = "low",
) -> Verdict:
    """What answers ``request`` with the browser's session ``sso``; ``fresh``: that session
    is the one a login made for this very request.

    A fresh session answers ``prompt=login`` and ``max_age`` (a slow typist must not be sent
    round again), and only its level is checked — a login asked to give two factors that gave
    fewer is refused (``access_denied``), never sent round again. Any other session answers
    when no ``prompt=login`` asks a new login, it is no older than ``max_age``, it is of the
    practice ``login_hint`` names, and its level meets ``acr_values`` and the client's
    ``minimum``."""
    second = wants_second_factor(request)
    if sso is not None and fresh:
        if acr_satisfied(sso.acr, request.acr_values) and reaches(sso, minimum):
            return Issue()
        return Refuse("access_denied", "the login did not reach the level acr_values asks")
    silent = "none" in request.prompt
    if sso is None:
        if silent:
            return Refuse("login_required", "no session: the person must log in")
        return Login(second)
    stale = "login" in request.prompt or (
        request.max_age is not None and now - sso.auth_time > request.max_age
    )
    practice = hinted_practice(request.login_hint)
    other = practice is not None and sso.practice is not None and practice != sso.practice
    weak = not acr_satisfied(sso.acr, request.acr_values) or not reaches(sso, minimum)
    if not (stale or other or weak):
        return Issue()
    if silent:
        return Refuse("interaction_required", "the session is too old or too weak for this request")
    return Login(second)
