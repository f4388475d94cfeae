"""Token revocation for applications (RFC 7009): a refresh token or an access token of the
client's grant ends the grant session, and with it every token of the family. Anything else
(an unknown, expired or other client's token) changes nothing and is answered the same (§2.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import asyncpg

from services.auth.domain import oidc as sealed
from services.auth.domain import tokens
from services.auth.domain.oauth import OAuthError, form_values
from services.auth.use_cases.client_auth import ClientAuthentication
from services.auth.use_cases.tokens import Revoking
from shared.events import utcnow
from shared.gate import TokenGate
from shared.problems import Problem
from shared.sealing import Keyring


@dataclass(frozen=True)
class GrantRevocation:
    pool: asyncpg.Pool
    keyring: Keyring
    gate: TokenGate
    client_auth: ClientAuthentication
    revoking: Revoking

    async def revoke(self, form: Mapping[str, list[str]], authorization: str | None) -> None:
        values = form_values(form)
        client = await self.client_auth.authenticate(values, authorization)
        token = values.get("token")
        if token is None:
            raise OAuthError("invalid_request", "token is missing")
        session = await self._grant(token, client.client_id)
        if session is not None:
            async with self.pool.acquire() as conn, conn.transaction():
                await self.revoking.end(conn, session, "client_revoked", utcnow())

    async def _grant(self, token: str, client_id: str) -> tokens.Session | None:
        """The grant session ``token`` (refresh or access) belongs to, if it is the client's."""
        try:
            refresh = sealed.open_refresh(self.keyring, token, client_id, utcnow())
        except sealed.Unusable:
            pass
        else:
            grant = refresh.sso.grant_session(client_id, refresh.scope)
            return replace(grant, sid=refresh.grant_sid)
        try:
            claims = await self.gate.signed_session_claims(token)
            session = tokens.Session.from_claims(claims)
        except (Problem, ValueError, KeyError):
            return None
        return session if session.client_id == client_id and session.sso_sid else None
