"""This zone's tokens: a session's claims (its lifetimes, the issuer, audience and zone) and
their signature; also the short-lived token of a login sent to enrol a second factor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.auth.adapters.signer import Signer
from services.auth.api import TokenResponse
from services.auth.domain import tokens
from services.auth.domain.records import Employee


@dataclass(frozen=True)
class Grants:
    signer: Signer
    lifetimes: tokens.Lifetimes
    issuer: str
    zone: str
    audience: str
    client_id: str

    def grant(self, session: tokens.Session, now: datetime) -> tokens.Grant:
        """The claims of this zone's token for ``session`` at ``now`` (see tokens.grant)."""
        return tokens.grant(
            session,
            self.lifetimes,
            self.issuer,
            self.zone,
            now,
            audience=self.audience,
            client_id=self.client_id,
        )

    def token(
        self,
        grant: tokens.Grant,
        now: datetime,
        recovery_code: str | None = None,
        **claims: Any,
    ) -> TokenResponse:
        """The answer carrying ``grant`` signed (with ``claims`` over its own)."""
        return TokenResponse(
            token=self.signer.sign({**grant.claims, **claims}, now),
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
            recovery_code=recovery_code,
        )

    def enrolment_token(
        self, employee: Employee, login_id: str, now: datetime, expires_at: datetime
    ) -> str:
        """What lets a login at its ``enrol`` step into the enrolment wizard, until
        ``expires_at``."""
        claims = {
            "iss": self.issuer,
            "sub": employee.id,
            "practice": employee.practice,
            "sid": login_id,
            "lid": login_id,
            "aud": self.audience,
            "client_id": self.client_id,
            "scope": tokens.ENROL_SCOPE,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "zone": self.zone,
        }
        return self.signer.sign(claims, now)
