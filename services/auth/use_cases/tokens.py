"""Token use cases: issue, renew (sliding window, one round trip), revoke (log out),
introspect (RFC 7662)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters import sessions
from services.auth.adapters.events import token_event
from services.auth.api import TokenResponse
from services.auth.domain import tokens
from services.auth.metrics import AuthMetrics
from services.auth.use_cases.grants import Grants
from shared import actors, replicas
from shared.events import Envelope, RevocationReason, SessionRevoked, utcnow
from shared.gate import TokenGate
from shared.liveness import renewable
from shared.outbox import EventWriter
from shared.problems import Problem
from shared.topics import AUTH_EVENTS


@dataclass(frozen=True)
class Issuing:
    grants: Grants
    events: EventWriter
    metrics: AuthMetrics

    async def issue(
        self, conn: asyncpg.Connection, session: tokens.Session, now: datetime, kind: str
    ) -> TokenResponse:
        """A token for ``session``, its ``kind`` event queued in the caller's transaction."""
        token, event = self.issued(session, now, kind)
        await self.events.queue(conn, AUTH_EVENTS, event)
        return token

    def issued(
        self, session: tokens.Session, now: datetime, kind: str, counted: bool = True
    ) -> tuple[TokenResponse, Envelope]:
        """A token for ``session`` and its ``kind`` event, for the caller's statement to
        queue (``counted``: in the issued tokens' metrics now, else by the caller once its
        statement gave it out)."""
        started = time.perf_counter()
        grant = self.grants.grant(session, now)
        token = self.grants.token(grant, now)
        event = token_event(self.events, kind, session, grant, now)
        if counted:
            self.metrics.tokens(kind, started)
        return token, event

    async def continued(
        self, conn: asyncpg.Connection, session: tokens.Session, rights_group: int, now: datetime
    ) -> None:
        """``session`` goes on from another without a login (in the caller's transaction):
        recorded among the employee's sessions here, and in the other zone by
        ``session.continued``."""
        data = {
            **sessions.fields(session, self.grants.lifetimes.session_end(session)),
            "actor": actors.actor(session.employee, rights_group),
        }
        await sessions.record(conn, session.practice, session.employee, self.grants.zone, data)
        await self.events.emit(
            conn, AUTH_EVENTS, sessions.CONTINUED, session.practice, session.employee, data, now
        )


@dataclass(frozen=True)
class Renewing:
    gate: TokenGate
    pool: asyncpg.Pool
    grants: Grants
    events: EventWriter
    metrics: AuthMetrics
    #: How often a session's renewals are announced (``token.renewed``).
    event_every: timedelta

    async def renew(self, token: str) -> TokenResponse:
        """A new token valid X from now (capped at the session's end), in one round trip; a
        ``token.renewed`` event only when due (:func:`tokens.renewal_event_due`)."""
        started = time.perf_counter()
        # The live-session rules are checked in renew_session's one statement (one round
        # trip on the hottest path), the same rules as TokenGate.live_session.
        claims = await self.gate.signed_session_claims(token)
        session = tokens.Session.from_claims(claims)
        now = utcnow()
        try:
            grant = self.grants.grant(session, now)
        except tokens.SessionEnded:
            raise problems.session_expired() from None
        due = tokens.renewal_event_due(session, int(claims["iat"]), now, self.event_every)
        single_factor = session.aal == tokens.SINGLE_FACTOR_AAL
        # No event due: the state in memory answers while it is current (no round trip).
        held = None if due else self._held(session, single_factor)
        rights_group: int | None
        if held is not None:
            live, rights_group = held
        else:
            event = token_event(self.events, "token.renewed", session, grant, now) if due else None
            state = await repo.renew_session(
                self.pool,
                session.practice,
                session.employee,
                session.sid,
                None if event is None else self.events.row(AUTH_EVENTS, event),
                single_factor=single_factor,
                auth_time=session.auth_time,
                sso_sid=session.sso_sid,
            )
            live = state is not None and bool(state["live"])
            rights_group = None if state is None else state["rights_group"]
        if not live:
            raise problems.session_revoked()
        renewed = self.grants.token(grant, now, rg=rights_group)
        self.metrics.tokens("token.renewed", started)
        return renewed

    def _held(self, session: tokens.Session, single_factor: bool) -> tuple[bool, int] | None:
        """(live, rights group) by the renewal statement's rules from the liveness state in
        memory; None when it cannot answer (the statement then does)."""
        liveness = self.gate.liveness
        if liveness is None:
            return None
        state = liveness.row(
            session.practice, session.employee, session.sid, session.sso_sid or session.sid
        )
        if state is None:
            return None
        return renewable(state, single_factor, session.auth_time), int(state["rights_group"])


@dataclass(frozen=True)
class Revoking:
    gate: TokenGate
    pool: asyncpg.Pool
    events: EventWriter
    lifetimes: tokens.Lifetimes
    metrics: AuthMetrics

    async def revoke(self, token: str, reason: RevocationReason = "logout") -> None:
        """Log out: holding the signed token is enough, even when the session already ended."""
        claims = await self.gate.signed_session_claims(token)
        async with self.pool.acquire() as conn, conn.transaction():
            await self.end(conn, tokens.Session.from_claims(claims), reason, utcnow())

    async def end(
        self,
        conn: asyncpg.Connection,
        session: tokens.Session,
        reason: RevocationReason,
        now: datetime,
    ) -> bool:
        """``session`` ends (in the caller's transaction): revoked until its absolute end
        everywhere, ``token.revoked`` for the audit trail; False if it had ended here before."""
        body = SessionRevoked(
            sid=session.sid,
            employee=session.employee,
            revoked_at=now,
            session_expires_at=self.lifetimes.session_end(session),
            reason=reason,
        )
        if not await replicas.revoke_session(self.events, conn, body, session.practice, now):
            return False
        revoked = {"sid": session.sid, "reason": reason}
        await self.events.emit(
            conn, AUTH_EVENTS, "token.revoked", session.practice, session.employee, revoked, now
        )
        self.metrics.tokens("token.revoked", None)
        return True


#: The claims an active token's introspection shows (RFC 7662 §2.2 and Tweestap's own).
SHOWN = (
    *("sub", "iss", "aud", "client_id", "exp", "iat", "jti", "practice", "rg", "sid"),
    *("amr", "acr", "aal", "auth_time", "zone"),
)


@dataclass(frozen=True)
class Introspecting:
    gate: TokenGate

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": false}`` for anything not a live session token; when active,
        the rights group is the directory's now, not the token's. One round trip: the
        session's state and the username in one statement."""
        try:
            claims, state = await self.gate.live(token)
        except Problem:
            return {"active": False}
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": claims["scope"],
            "username": state["username"],
            **{k: claims[k] for k in SHOWN if k in claims},
        }
