"""Logging in with Dezi, and linking Dezi (docs/adr/0014).

A Dezi login's verified claims (:class:`UpstreamIdentities`) name a Dezi number and the care
providers (URA) the person acts for. The employee is the one whose ``dezi_number`` it is and
whose practice's ``ura`` Dezi names; the login then completes as every login by a means of its
own does (:class:`MeansLogin`: the account, the level, the session, the events), with the role
codes of that relation. An identity linked to nobody, acting for another care provider, or
linked twice gets a problem, never a session.

Linking: an employee in a two-factor session proves their Dezi identity; auth answers with a
short-lived statement it signs (``typ`` ``dezi-link+jwt``), which enrolment, the owner of the
directory, checks before it records the number on the employee (``PUT /v1/dezi``)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from services.auth import upstream_problems as problems
from services.auth.adapters import dezi_links
from services.auth.adapters.signer import Signer
from services.auth.api_upstream import (
    DeziLinkProof,
    UpstreamAnswer,
    UpstreamLoginDone,
    UpstreamStarted,
)
from services.auth.domain import dezi
from services.auth.use_cases.means_login import MeansLogin
from services.auth.use_cases.upstream_identities import UpstreamIdentities
from shared import assurance
from shared.assurance import Level
from shared.events import utcnow
from shared.gate import TokenGate
from shared.problems import forbidden
from shared.tokens import EDDSA, TWO_FACTOR_AAL, aal_of

log = logging.getLogger(__name__)
#: The means of a Dezi login in the level table (shared/assurance.py).
MEANS = "dezi"
#: RFC 8176 ``amr`` of a Dezi session: Dezi authenticated the person with more than one
#: factor (level high cannot be had otherwise); which ones is Dezi's to say, not ours.
AMR = ("mfa",)
#: The link statement (:class:`DeziLinkProof`): its ``typ``, audience and life.
LINK_TYPE = "dezi-link+jwt"
LINK_AUDIENCE = "tweestap-enrolment"
LINK_SECONDS = 120


def person(claims: dict[str, Any], minimum: Level) -> dezi.DeziIdentity:
    """The Dezi identity the verified ``claims`` state, authenticated at ``minimum`` or
    higher (403 ``upstream-level-too-low`` otherwise)."""
    try:
        found = dezi.identity(claims)
    except dezi.NotDezi as refused:
        log.warning("upstream answer refused", extra={"provider": MEANS, "reason": str(refused)})
        raise problems.identity_refused() from None
    if found.level is None or not assurance.at_least(found.level, minimum):
        raise problems.level_too_low(minimum)
    return found


@dataclass(frozen=True)
class DeziLogin:
    identities: UpstreamIdentities
    pool: asyncpg.Pool
    means: MeansLogin
    minimum_level: Level

    async def start(self) -> UpstreamStarted:
        return await self.identities.start("login")

    async def login(self, answer: UpstreamAnswer) -> UpstreamLoginDone:
        """The Dezi answer logs its employee in (a session at the level of ``dezi``)."""
        ticket = self.identities.open(answer, "login")
        found = person(await self.identities.claims(ticket, answer), self.minimum_level)
        async with self.pool.acquire() as conn:
            linked = await dezi_links.linked(conn, found.number)
        try:
            employee, relation = dezi.choose(found, linked)
        except dezi.Unlinked:
            raise problems.unlinked() from None
        except dezi.WrongUra:
            raise problems.wrong_ura() from None
        except dezi.Ambiguous:
            raise problems.ambiguous() from None
        token = await self.means.complete(
            employee.practice,
            employee.employee,
            MEANS,
            AMR,
            asked_level=answer.level,
            roles=relation.roles,
        )
        return UpstreamLoginDone(token=token)


@dataclass(frozen=True)
class DeziLink:
    identities: UpstreamIdentities
    pool: asyncpg.Pool
    gate: TokenGate
    signer: Signer
    #: Auth's issuer: the statement's ``iss``.
    issuer: str
    minimum_level: Level

    async def _session(self, token: str) -> dict[str, Any]:
        """A live two-factor session (not the certificate fallback): who may link."""
        claims = await self.gate.live_session(token)
        if aal_of(claims) != TWO_FACTOR_AAL:
            raise forbidden("Linking Dezi needs a login with your password and a second factor.")
        return claims

    async def start(self, token: str) -> UpstreamStarted:
        """A link for the session's employee (the ticket names the session)."""
        claims = await self._session(token)
        return await self.identities.start(
            "link", practice=claims["practice"], employee=claims["sub"], sid=claims["sid"]
        )

    async def complete(self, token: str, answer: UpstreamAnswer) -> DeziLinkProof:
        """The statement that the session's employee proved this Dezi identity, one that acts
        for the practice's URA (409 when the practice has none recorded, 403 for another)."""
        claims = await self._session(token)
        ticket = self.identities.open(answer, "link")
        mine = (claims["practice"], claims["sub"], claims["sid"])
        if (ticket.practice, ticket.employee, ticket.sid) != mine:
            raise problems.link_not_yours()
        found = person(await self.identities.claims(ticket, answer), self.minimum_level)
        async with self.pool.acquire() as conn:
            ura = await dezi_links.practice_ura(conn, claims["practice"])
        if ura is None:
            raise problems.practice_without_ura()
        if found.relation(ura) is None:
            raise problems.wrong_ura()
        now = utcnow()
        expires = now + timedelta(seconds=LINK_SECONDS)
        statement = {
            "iss": self.issuer,
            "aud": LINK_AUDIENCE,
            "sub": claims["sub"],
            "practice": claims["practice"],
            "sid": claims["sid"],
            "dezi_number": found.number,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        assertion = self.signer.sign_jwt(statement, now, alg=EDDSA, typ=LINK_TYPE)
        return DeziLinkProof(assertion=assertion, dezi_number=found.number, expires_at=expires)
