"""Tweestap as the relying party of one upstream OpenID Provider (docs/adr/0014): a login
request made and sealed (:meth:`UpstreamIdentities.start`), and the upstream's answer turned
into the person's verified claims (:meth:`UpstreamIdentities.open`, then
:meth:`UpstreamIdentities.claims`): the ticket and its ``state``, the upstream's ``iss``
(RFC 9207), the code redeemed with the PKCE verifier, the ID token's signature, issuer,
audience, expiry and ``nonce``, and userinfo about the same subject. What the claims mean is
the means' business (:mod:`services.auth.use_cases.dezi`)."""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.auth import upstream_problems as problems
from services.auth.adapters.upstream import CodeRefused, UpstreamProvider, UpstreamUnavailable
from services.auth.api_upstream import UpstreamAnswer, UpstreamStarted
from services.auth.domain.upstream import (
    Purpose,
    Refused,
    Ticket,
    TicketRefused,
    authorization_url,
    check_id_token,
    merged_claims,
)
from shared.sealing import Keyring

log = logging.getLogger(__name__)
#: What an ID token must hold (OpenID Connect Core §2).
ID_TOKEN_CLAIMS = ("iss", "aud", "exp", "iat", "sub")


@dataclass(frozen=True)
class UpstreamIdentities:
    provider: UpstreamProvider
    keyring: Keyring

    @property
    def name(self) -> str:
        return self.provider.config.name

    async def start(
        self,
        purpose: Purpose,
        *,
        practice: str | None = None,
        employee: str | None = None,
        sid: str | None = None,
    ) -> UpstreamStarted:
        """A login request for ``purpose`` (a link names the session that links): where the
        browser goes, and the sealed ticket that must come back with the answer. 503
        ``upstream-unavailable`` when the upstream's metadata cannot be had."""
        config = self.provider.config
        now = int(time.time())
        try:
            metadata = await self.provider.metadata()
        except UpstreamUnavailable:
            raise problems.unavailable() from None
        ticket = Ticket.new(
            config.name, purpose, now, config.login_seconds, practice, employee, sid
        )
        url = authorization_url(
            metadata.authorization_endpoint,
            config.client_id,
            config.redirect_uri,
            config.scopes,
            ticket,
            config.prompt,
        )
        return UpstreamStarted(
            authorization_url=url,
            ticket=ticket.seal(self.keyring),
            expires_at=datetime.fromtimestamp(ticket.expires_at, tz=UTC),
        )

    def open(self, answer: UpstreamAnswer, purpose: Purpose) -> Ticket:
        """The ticket ``answer`` came back with, if it is a waiting request for ``purpose``
        and ``state`` is its own (400 ``upstream-request-invalid`` otherwise)."""
        try:
            ticket = Ticket.open(self.keyring, answer.ticket, self.name, int(time.time()))
        except TicketRefused as refused:
            raise problems.request_refused(str(refused)) from None
        if ticket.purpose != purpose:
            raise problems.request_refused(f"a request to {ticket.purpose}")
        if not ticket.answers(answer.state):
            raise problems.request_refused("another request's state")
        return ticket

    async def claims(self, ticket: Ticket, answer: UpstreamAnswer) -> dict[str, Any]:
        """The person's claims, verified: 400 for a code the upstream refuses, 401
        ``upstream-identity-refused`` for an answer that does not verify (the reason is
        logged), 503 when the upstream cannot be reached. Nothing is written here."""
        try:
            return await self._claims(ticket, answer)
        except Refused as refused:
            log.warning(
                "upstream answer refused", extra={"provider": self.name, "reason": str(refused)}
            )
            raise problems.identity_refused() from None
        except CodeRefused:
            raise problems.code_refused() from None
        except UpstreamUnavailable:
            raise problems.unavailable() from None

    async def _claims(self, ticket: Ticket, answer: UpstreamAnswer) -> dict[str, Any]:
        provider, config = self.provider, self.provider.config
        metadata = await provider.metadata()
        if answer.iss is not None and not hmac.compare_digest(answer.iss, config.issuer):
            raise Refused("the answer names another issuer (iss)")
        if answer.iss is None and metadata.iss_parameter:
            raise Refused("the answer lacks the issuer (iss) its provider always sends")
        tokens = await provider.redeem(answer.code, ticket.verifier)
        id_token, alg = await provider.verify(
            tokens.id_token, metadata.id_token_algorithms, ID_TOKEN_CLAIMS
        )
        check_id_token(
            id_token, ticket, config.client_id, tokens.access_token, alg, config.leeway_seconds
        )
        userinfo = await provider.userinfo(tokens.access_token)
        return merged_claims(id_token, userinfo)
