"""Token use cases: issue, renew (sliding window, one round trip), revoke (log out),
introspect (RFC 7662)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.api import TokenResponse
from services.auth.core import AuthCore
from services.auth.domain import tokens
from shared import replicas
from shared.events import RevocationReason, SessionRevoked, utcnow
from shared.outbox import outbox_row, publish
from shared.problems import Problem
from shared.topics import AUTH_EVENTS, STS_REVOCATIONS


@dataclass
class Tokens:
    core: AuthCore

    async def issue(
        self, conn: asyncpg.Connection, session: tokens.Session, now: datetime, kind: str
    ) -> TokenResponse:
        started = time.perf_counter()
        grant = self.core.grant(session, now)
        token = self.core.signer.sign(grant.claims, now)
        await publish(
            conn, self.core.settings, AUTH_EVENTS, self.core.token_event(kind, session, grant, now)
        )
        self.core.metrics.tokens(kind, started)
        return TokenResponse(
            token=token,
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
        )

    async def renew(self, token: str) -> TokenResponse:
        """A new token valid X from now (capped at the session's end), in one round trip; a
        ``token.renewed`` event only when due (:func:`tokens.renewal_event_due`)."""
        started = time.perf_counter()
        # The live-session rules are checked in renew_session's one statement (one round
        # trip on the hottest path), the same rules as TokenGate.live_session.
        claims = await self.core.gate.signed_session_claims(token)
        session = tokens.Session.from_claims(claims)
        now = utcnow()
        try:
            grant = self.core.grant(session, now)
        except tokens.SessionEnded:
            raise Problem(
                401,
                "session-expired",
                "Session reached its maximum",
                "The session may not be extended further; log in again.",
            ) from None
        every = timedelta(seconds=self.core.settings.renewal_event_seconds)
        event = (
            outbox_row(
                self.core.settings,
                AUTH_EVENTS,
                self.core.token_event("token.renewed", session, grant, now),
            )
            if tokens.renewal_event_due(session, int(claims["iat"]), now, every)
            else None
        )
        state = await repo.renew_session(
            self.core.pool,
            session.practice,
            session.employee,
            session.sid,
            event,
            single_factor=session.acr == tokens.SINGLE_FACTOR_ACR,
            auth_time=session.auth_time,
        )
        if state is None or not state["live"]:
            raise Problem(401, "session-revoked", "Session ended", "Log in again.")
        signed = self.core.signer.sign({**grant.claims, "rg": state["rights_group"]}, now)
        self.core.metrics.tokens("token.renewed", started)
        return TokenResponse(
            token=signed,
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
        )

    async def revoke(self, token: str, reason: RevocationReason = "logout") -> None:
        """Log out: holding the signed token is enough, even when the session already ended."""
        claims = await self.core.gate.signed_session_claims(token)
        session = tokens.Session.from_claims(claims)
        now = utcnow()
        body = SessionRevoked(
            sid=session.sid,
            employee=session.employee,
            revoked_at=now,
            session_expires_at=self.core.lifetimes.session_end(session),
            reason=reason,
        )
        async with self.core.pool.acquire() as conn, conn.transaction():
            fresh = await replicas.add_revocation(
                conn, session.sid, session.practice, session.employee, now, body.session_expires_at
            )
            if not fresh:
                return
            await self.core.emit(
                conn,
                STS_REVOCATIONS,
                "session.revoked",
                session.practice,
                session.employee,
                body.model_dump(mode="json"),
                now,
            )
            await self.core.emit(
                conn,
                AUTH_EVENTS,
                "token.revoked",
                session.practice,
                session.employee,
                {"sid": session.sid, "reason": reason},
                now,
            )
        self.core.metrics.tokens("token.revoked", None)

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": false}`` for anything not a live session token; when active,
        the rights group is the directory's now, not the token's. One round trip: the
        session's state and the username in one statement."""
        try:
            claims, state = await self.core.gate.live(token)
        except Problem:
            return {"active": False}
        shown = (
            *("sub", "iss", "aud", "client_id", "exp", "iat", "jti", "practice", "rg", "sid"),
            *("amr", "acr", "auth_time", "zone"),
        )
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": claims["scope"],
            "username": state["username"],
            **{k: claims[k] for k in shown if k in claims},
        }
