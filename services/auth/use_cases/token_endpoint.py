"""The token endpoint (RFC 6749 §3.2, OpenID Connect Core §3.1.3): a code for tokens, a
refresh token for the next ones (docs/adr/0011).

A code's redemption begins the application's grant session; the code is spent in this zone's
database in the same transaction, and the spending travels to the other zone
(``oidc.granted``): a second redemption here ends the grant the first began. A refresh token
rotates: the family's current generation moves forward in the same transaction as the new
tokens, and travels (``oidc.refreshed``); presenting an older one ends the grant, and with it
every token of the family."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.adapters import oidc_store as store
from services.auth.api import TokenResponse
from services.auth.domain import oidc as sealed
from services.auth.domain import tokens
from services.auth.domain.clients import ClientState
from services.auth.domain.oauth import OAuthError, form_values, invalid_grant
from services.auth.metrics import AuthMetrics
from services.auth.use_cases.client_auth import ClientAuthentication
from services.auth.use_cases.grants import Grants
from services.auth.use_cases.id_tokens import IdTokens
from services.auth.use_cases.tokens import Issuing, Revoking
from shared import oidc
from shared.events import utcnow
from shared.gate import TokenGate
from shared.outbox import EventWriter, OutboxRow
from shared.problems import Problem
from shared.sealing import Keyring
from shared.topics import AUTH_EVENTS


@dataclass(frozen=True)
class Live:
    """A grant session found live, with the person's current rights group and profile."""

    session: tokens.Session
    person: Mapping[str, Any]


@dataclass(frozen=True)
class TokenEndpoint:
    pool: asyncpg.Pool
    keyring: Keyring
    gate: TokenGate
    grants: Grants
    issuing: Issuing
    revoking: Revoking
    id_tokens: IdTokens
    client_auth: ClientAuthentication
    events: EventWriter
    metrics: AuthMetrics
    zone: str

    async def token(
        self, form: Mapping[str, list[str]], authorization: str | None
    ) -> dict[str, Any]:
        started = time.perf_counter()
        values: dict[str, str] = {}
        try:
            values = form_values(form)
            client = await self.client_auth.authenticate(values, authorization)
            answer = await self._grant(client, values)
        except OAuthError as error:
            self.metrics.oidc(_endpoint(values), error.error, started)
            raise
        self.metrics.oidc(_endpoint(values), "ok", started)
        return answer

    async def _grant(self, client: ClientState, values: Mapping[str, str]) -> dict[str, Any]:
        grant_type = values.get("grant_type")
        if grant_type == "authorization_code":
            return await self._code(client, values)
        if grant_type == "refresh_token":
            return await self._refresh(client, values)
        if grant_type is None:
            raise OAuthError("invalid_request", "grant_type is missing")
        raise OAuthError("unsupported_grant_type", "authorization_code or refresh_token")

    async def _code(self, client: ClientState, values: Mapping[str, str]) -> dict[str, Any]:
        now = utcnow()
        if "code" not in values:
            raise OAuthError("invalid_request", "code is missing")
        try:
            code = sealed.open_code(self.keyring, values["code"], client.client_id, now)
        except sealed.Unusable:
            raise invalid_grant("the code is not valid, not this client's, or expired") from None
        if values.get("redirect_uri") != code.redirect_uri:
            raise invalid_grant("redirect_uri is not the authorization request's")
        if not oidc.pkce_matches(values.get("code_verifier"), code.code_challenge):
            raise invalid_grant("code_verifier does not match the code_challenge (PKCE)")
        live = await self._live(code.sso.grant_session(client.client_id, code.scope), now)
        session = live.session
        refresh = sealed.first_refresh(
            session.sid, code.sso, client.client_id, code.scope, self._end(session)
        )
        row = self._row(refresh)
        granted = store.Granted(code_id=code.id, code_expires_at=code.expires_at, grant=row)
        started = time.perf_counter()
        access, events = self._token_and_events(
            session, "token.issued", store.GRANTED, granted.model_dump(mode="json"), now
        )
        async with self.pool.acquire() as conn:
            earlier = await store.redeem_code(
                conn,
                code.id,
                code.expires_at,
                session.practice,
                session.employee,
                row,
                now,
                self.zone,
                events,
            )
        if earlier is not None:
            # A second redemption: what the first began ends (RFC 6749 §4.1.2).
            async with self.pool.acquire() as conn, conn.transaction():
                await self.revoking.end(conn, replace(session, sid=earlier), "token_reused", now)
            raise invalid_grant("the code was used before")
        self.metrics.tokens("token.issued", started)  # given out
        return self._answer(client, live, access.token, access.expires_at, refresh, now, code.nonce)

    async def _refresh(self, client: ClientState, values: Mapping[str, str]) -> dict[str, Any]:
        now = utcnow()
        if "refresh_token" not in values:
            raise OAuthError("invalid_request", "refresh_token is missing")
        try:
            presented = sealed.open_refresh(
                self.keyring, values["refresh_token"], client.client_id, now
            )
        except sealed.Unusable:
            detail = "the refresh token is not valid, not this client's, or expired"
            raise invalid_grant(detail) from None
        session = replace(
            presented.sso.grant_session(client.client_id, presented.scope),
            sid=presented.grant_sid,
        )
        following = presented.next()
        rotated = await self._rotated(client, session, presented, following, now)
        if rotated is not None:
            return rotated
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await store.current(conn, session.sid)
            if stored is None:
                # Begun or rotated in the other zone, whose news has not arrived yet.
                await store.insert_grant(
                    conn, session.practice, session.employee, self._row(presented), now
                )
            reused = sealed.reused(
                presented,
                None if stored is None else stored.generation,
                None if stored is None else stored.token_id,
            )
            if reused:
                await self.revoking.end(conn, session, "token_reused", now)
            else:
                live = await self._live(session, now)
                await store.advance(
                    conn, session.sid, following.generation, following.token_id, now
                )
                row = self._row(following).model_dump(mode="json")
                await self._emit(conn, store.REFRESHED, session, {"grant": row}, now)
                access = await self.issuing.issue(conn, live.session, now, "token.renewed")
        if reused:
            raise invalid_grant("the refresh token was used before; the grant has ended")
        return self._answer(client, live, access.token, access.expires_at, following, now)

    async def _rotated(
        self,
        client: ClientState,
        session: tokens.Session,
        presented: sealed.RefreshToken,
        following: sealed.RefreshToken,
        now: datetime,
    ) -> dict[str, Any] | None:
        """The answer to a refresh whose token is its family's current one here, rotated in
        one round trip (:func:`store.rotate`); None when the locked way must decide (a reuse,
        the other zone's rotation or grant not arrived yet, a session not live)."""
        started = time.perf_counter()
        try:
            live = await self._live(session, now)
        except OAuthError:
            return None  # the locked way answers, a reuse first
        row = self._row(following).model_dump(mode="json")
        access, events = self._token_and_events(
            live.session, "token.renewed", store.REFRESHED, {"grant": row}, now
        )
        async with self.pool.acquire() as conn:
            done = await store.rotate(
                conn,
                session.sid,
                (presented.generation, presented.token_id),
                (following.generation, following.token_id),
                now,
                events,
            )
        if not done:
            return None
        self.metrics.tokens("token.renewed", started)
        return self._answer(client, live, access.token, access.expires_at, following, now)

    async def _live(self, session: tokens.Session, now: datetime) -> Live:
        """``session`` if it may have tokens now (its cap, and the live-session rules of every
        token: :meth:`TokenGate.live_state`), with the directory's rights group."""
        try:
            grant = self.grants.grant(session, now)
            state = await self.gate.live_state(grant.claims)
        except (tokens.SessionEnded, Problem):
            raise invalid_grant("the session has ended") from None
        return Live(replace(session, rights_group=int(state["rights_group"])), dict(state))

    def _end(self, session: tokens.Session) -> datetime:
        return self.grants.lifetimes.session_end(session)

    def _row(self, token: sealed.RefreshToken) -> store.GrantRow:
        return store.GrantRow(
            sid=token.grant_sid,
            sso_sid=token.sso.sid,
            client_id=token.client_id,
            scope=" ".join(token.scope),
            auth_time=token.sso.auth_time,
            session_expires_at=token.session_expires_at,
            generation=token.generation,
            token_id=token.token_id,
        )

    def _token_and_events(
        self,
        session: tokens.Session,
        kind: str,
        grant_event: str,
        data: dict[str, Any],
        now: datetime,
    ) -> tuple[TokenResponse, list[OutboxRow]]:
        """An access token of ``kind`` for ``session`` (counted by the caller once given out)
        and the outbox rows of the grant's ``grant_event`` and the token's, for one statement
        to queue."""
        access, issued = self.issuing.issued(session, now, kind, counted=False)
        event = self.events.event(grant_event, session.practice, session.employee, data, now)
        return access, [self.events.row(AUTH_EVENTS, event), self.events.row(AUTH_EVENTS, issued)]

    async def _emit(
        self,
        conn: asyncpg.Connection,
        kind: str,
        session: tokens.Session,
        data: dict[str, Any],
        now: datetime,
    ) -> None:
        await self.events.emit(
            conn, AUTH_EVENTS, kind, session.practice, session.employee, data, now
        )

    def _answer(
        self,
        client: ClientState,
        live: Live,
        access_token: str,
        expires_at: datetime,
        refresh: sealed.RefreshToken,
        now: datetime,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        scope = refresh.scope
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": max(1, int((expires_at - now).total_seconds())),
            "refresh_token": sealed.seal_refresh(self.keyring, refresh),
            "id_token": self.id_tokens.sign(client, refresh.sso, scope, live.person, now, nonce),
            "scope": " ".join(scope),
        }


def _endpoint(values: Mapping[str, str]) -> str:
    """The metrics' endpoint label: the grant type when it is one of ours."""
    grant_type = values.get("grant_type")
    return grant_type if grant_type in ("authorization_code", "refresh_token") else "token"
