"""Token claims, lifetimes and the sliding-window renewal rule — pure, no I/O.

A token is valid X (configurable, at most 24 h); the client renews after X/2. A renewed token is
valid X from the renewal but never past the session's absolute end: auth_time + the session
maximum (24 h, or 12 h for the certificate fallback).
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.assurance import LOA, Level, level_of_acr
from shared.tokens import (
    AAL_CLAIM,
    ENROL_SCOPE,
    FALLBACK_AAL,
    SESSION_SCOPE,
    SESSION_START_CLAIM,
    SINGLE_FACTOR_AAL,
    SSO_SESSION_CLAIM,
    TWO_FACTOR_AAL,
    aal_of,
    scopes,
    session_started,
)

__all__ = ["ENROL_SCOPE", "FALLBACK_AAL", "SESSION_SCOPE", "SINGLE_FACTOR_AAL", "TWO_FACTOR_AAL"]
FALLBACK_SESSION_MAX = timedelta(hours=12)


class SessionEnded(Exception):
    """The session reached its absolute end: only a full login gives a new token."""


@dataclass(frozen=True)
class Session:
    sid: str
    practice: str
    employee: str
    rights_group: int
    amr: tuple[str, ...]
    #: ``aal1``, ``aal2`` or ``aal2-fallback`` (the ``aal`` claim; the fallback's cap).
    aal: str
    auth_time: datetime
    #: The eIDAS level (the ``acr`` claim), from the means it was made with (ADR 0012).
    level: Level = "low"
    #: An application's grant (OpenID Connect, docs/adr/0011): the client it was granted to
    #: (the tokens' ``client_id``), and the SSO session it came from (``ssid``), whose end is
    #: its end too.
    client_id: str | None = None
    sso_sid: str | None = None
    #: The OpenID scopes granted beside ``session`` (``openid``, ``profile``…).
    scope: tuple[str, ...] = ()
    #: Role codes a means vouched for (Dezi's), carried as the ``roles`` claim.
    roles: tuple[str, ...] = ()

    @classmethod
    def new(
        cls,
        practice: str,
        employee: str,
        rights_group: int,
        amr: tuple[str, ...],
        aal: str,
        auth_time: datetime,
        level: Level,
        roles: tuple[str, ...] = (),
    ) -> Session:
        """``auth_time``: when the session began, to the microsecond (tokens carry it as
        ``sst`` beside ``auth_time``'s whole seconds); ``level``: its means' (ADR 0012)."""
        return cls(
            uuid.uuid4().hex,
            practice,
            employee,
            rights_group,
            amr,
            aal,
            auth_time,
            level,
            roles=roles,
        )

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Session:
        started = session_started(claims)
        if started is None:
            raise ValueError("no session start in the claims")
        return cls(
            sid=claims["sid"],
            practice=claims["practice"],
            employee=claims["sub"],
            rights_group=int(claims["rg"]),
            amr=tuple(claims["amr"]),
            aal=aal_of(claims) or SINGLE_FACTOR_AAL,
            auth_time=started,
            level=level_of_claims(claims),
            client_id=claims.get("client_id") if SSO_SESSION_CLAIM in claims else None,
            sso_sid=claims.get(SSO_SESSION_CLAIM),
            scope=tuple(s for s in scopes(claims) if s != SESSION_SCOPE),
            roles=tuple(str(role) for role in claims.get("roles") or ()),
        )


def level_of_claims(claims: dict[str, Any]) -> Level:
    """A token's level: its eIDAS ``acr``; a token signed before the levels (``acr`` an
    ``aal`` value) is ``low`` with one factor and ``substantial`` with two."""
    found = level_of_acr(claims.get("acr"))
    if found is not None:
        return found
    return "low" if aal_of(claims) in (None, SINGLE_FACTOR_AAL) else "substantial"


def session_start(now: datetime, cutoff: datetime | None) -> datetime:
    """When a session that begins ``now`` starts: ``now``, or just after the employee's cutoff
    when that is not earlier (a cutoff written with the same clock reading, or a zone's clock
    behind the other's), so the cutoff that came before a login never ends it. Sessions that
    began at or before a cutoff are revoked, compared to the microsecond (``sst``)."""
    if cutoff is not None and cutoff >= now:
        return cutoff + timedelta(microseconds=1)
    return now


@dataclass(frozen=True)
class Lifetimes:
    token: timedelta
    session_max: timedelta

    def session_end(self, session: Session) -> datetime:
        cap = FALLBACK_SESSION_MAX if session.aal == FALLBACK_AAL else self.session_max
        return (session.auth_time + min(cap, self.session_max)).replace(microsecond=0)


@dataclass(frozen=True)
class Grant:
    """What the STS hands out: the claims to sign and the times the client needs."""

    claims: dict[str, Any]
    expires_at: datetime
    renew_after: datetime
    session_expires_at: datetime


def grant(
    session: Session,
    lifetimes: Lifetimes,
    issuer: str,
    zone: str,
    now: datetime,
    *,
    audience: str,
    client_id: str,
) -> Grant:
    """Claims for a token issued or renewed at ``now`` (RFC 9068: ``aud`` and ``client_id``
    besides Tweestap's own); raises SessionEnded past the cap."""
    now = now.replace(microsecond=0)
    session_end = lifetimes.session_end(session)
    if now >= session_end:
        raise SessionEnded(session.sid)
    expires_at = min(now + lifetimes.token, session_end)
    renew_after = now + (expires_at - now) / 2
    claims = {
        "iss": issuer,
        "aud": audience,
        "client_id": session.client_id or client_id,
        "sub": session.employee,
        "practice": session.practice,
        "rg": session.rights_group,
        "sid": session.sid,
        "amr": list(session.amr),
        "acr": LOA[session.level],
        AAL_CLAIM: session.aal,
        "auth_time": math.floor(session.auth_time.timestamp()),
        SESSION_START_CLAIM: round(session.auth_time.timestamp(), 6),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_hex(16),
        "zone": zone,
        "scope": " ".join((SESSION_SCOPE, *session.scope)),
    }
    if session.sso_sid is not None:
        claims[SSO_SESSION_CLAIM] = session.sso_sid
    if session.roles:
        claims["roles"] = list(session.roles)
    return Grant(claims, expires_at, renew_after, session_end)


def renewal_event_due(
    session: Session, presented_iat: int, now: datetime, every: timedelta
) -> bool:
    """Whether a renewal at ``now`` queues a ``token.renewed`` event: when the token presented
    was issued in an earlier period (of length ``every``, counted from the session's start)
    than ``now``. A client renewing every few hours gets an event for each renewal; one
    renewing in a loop, one per period. ``every`` zero: every renewal."""
    if every <= timedelta(0):
        return True
    start = math.floor(session.auth_time.timestamp())  # whole seconds, like ``iat``
    period = every.total_seconds()
    return (now.timestamp() - start) // period > (presented_iat - start) // period
