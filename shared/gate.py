"""Accepting bearer tokens in any service: offline verification against every zone's public
keys (kept from ``sts.keys`` in the service's ``public_keys``), reloading them from the
database when a token names a key this process has not seen yet; and whether the token's
session is still live (every service that acts for a person keeps the directory and the
revocations: auth, enrolment, certs).

Two names, so the weaker cannot be mistaken for the stronger (DESIGN §5):
:meth:`TokenGate.live_session` is the check for a person's request; the ``signed_*`` methods
check a signature only and are for what a dead session may still do (log out) or for tokens
that are not sessions (enrolment)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg

from shared import actors
from shared.events import utcnow
from shared.liveness import Liveness
from shared.problems import session_revoked, unauthorized
from shared.replicas import public_keys
from shared.tokens import (
    SINGLE_FACTOR_AAL,
    SSO_SESSION_CLAIM,
    InvalidToken,
    TokenVerifier,
    UnknownKey,
    aal_of,
    is_session,
    require_admin,
    session_started,
)

#: A live session of a practice's administrator, ``(token, practice) → claims``
#: (:meth:`TokenGate.administrator`, as the use cases that need it receive it).
AdminCheck = Callable[[str, str], Awaitable[dict[str, Any]]]
#: Reload the keys at most this often, so tokens with made-up key ids cannot load the database.
RELOAD_INTERVAL_SECONDS = 1.0


class TokenGate:
    def __init__(
        self,
        verifier: TokenVerifier,
        pool: asyncpg.Pool,
        issuer: str,
        audience: str,
        leeway_seconds: int,
        columns: tuple[str, ...] = (),
        liveness: Liveness | None = None,
    ) -> None:
        """``columns``: more of the employee's columns (of table ``employees``, alias ``e``)
        that :meth:`live` should return with the state, in the same round trip;
        ``liveness``: the state in memory that answers instead of the database while it is
        current (docs/adr/0015), kept with the same ``columns``."""
        self.verifier = verifier
        self.liveness = liveness
        self._state_sql = session_state_sql(columns)
        self.pool = pool
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self._loaded_at = float("-inf")

    async def load_keys(self) -> None:
        async with self.pool.acquire() as conn:
            self.verifier.set_public_keys(await public_keys(conn, utcnow()))

    async def refresh_keys(self) -> None:
        if time.monotonic() - self._loaded_at < RELOAD_INTERVAL_SECONDS:
            return
        self._loaded_at = time.monotonic()
        await self.load_keys()

    def _signed(self, token: str) -> dict[str, Any]:
        return self.verifier.signed_claims(token, self.issuer, self.audience, self.leeway_seconds)

    async def signed_claims(self, token: str) -> dict[str, Any]:
        """Claims of a token signed by either zone's auth, for this audience; a 401 problem
        otherwise. Signature only: not for a person's request (see :meth:`live_session`)."""
        try:
            try:
                return self._signed(token)
            except UnknownKey:
                # Another zone's new key may have reached the database before this process.
                await self.refresh_keys()
                return self._signed(token)
        except InvalidToken as exc:
            raise unauthorized(f"Token not accepted: {exc}.") from None

    async def signed_subject_claims(self, token: str) -> dict[str, Any]:
        """Claims of a signed token that names its practice and employee (signature only)."""
        claims = await self.signed_claims(token)
        if not isinstance(claims.get("practice"), str) or not isinstance(claims.get("sub"), str):
            raise unauthorized("Token not accepted: no practice or subject.")
        return claims

    async def signed_session_claims(self, token: str) -> dict[str, Any]:
        """Claims of a signed session token, live or not: only for what an ended session may
        still do (log out), or where the caller checks liveness in its own statement."""
        claims = await self.signed_subject_claims(token)
        if not is_session(claims):
            raise unauthorized("Token not accepted: not a session token.")
        return claims

    async def state(
        self, practice: str, employee: str, sid: str, sso_sid: str
    ) -> Mapping[str, Any] | None:
        """The row of :func:`session_state_sql`: from memory while the liveness state is
        current and holds the employee, from the database otherwise (the same answer)."""
        if self.liveness is not None:
            found = self.liveness.row(practice, employee, sid, sso_sid)
            if found is not None:
                return found
        async with self.pool.acquire() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                self._state_sql, practice, employee, sid, sso_sid
            )
        return row

    async def live_state(self, claims: dict[str, Any]) -> Mapping[str, Any]:
        """The employee's current state, if the token's session is still live: not revoked,
        not started at or before the employee's cutoff, employee known and in service, and
        not a password-only session of a practice that requires two factors. Tokens other than
        session tokens (enrolment) are not subject to cutoffs: enrolling again is what follows
        a deactivation."""
        sid = str(claims["sid"])
        state = await self.state(
            claims["practice"], claims["sub"], sid, str(claims.get(SSO_SESSION_CLAIM) or sid)
        )
        if state is None or not state["in_service"] or state["revoked"]:
            raise session_revoked()
        if is_session(claims):
            started = session_started(claims)
            if started is None:
                raise unauthorized("Token not accepted: no session start.")
            cutoff = state["cutoff"]
            if cutoff is not None and started <= cutoff:
                raise session_revoked()
            if state["two_factor_required"] and aal_of(claims) == SINGLE_FACTOR_AAL:
                raise session_revoked()
        return state

    async def live_session(self, token: str) -> dict[str, Any]:
        """The check for every request a person makes with a session token: signed, for this
        audience, and the session live (:meth:`live_state`); the claims carry the employee's
        current rights group (the directory's now, not the token's)."""
        claims, _ = await self.live(token)
        return claims

    async def administrator(self, token: str, practice_id: str) -> dict[str, Any]:
        """:meth:`live_session` of the practice's administrator: rights group 1 of its own
        practice, as the directory says now (not the token's claim); 403 otherwise. The
        claims are bound as the actor of this request's events (the audit trail)."""
        claims = await self.live_session(token)
        require_admin(claims, practice_id)
        actors.bind(claims)
        return claims

    async def live(self, token: str) -> tuple[dict[str, Any], Mapping[str, Any]]:
        """:meth:`live_session`, with the state it read (and the gate's ``columns``)."""
        claims = await self.signed_session_claims(token)
        state = await self.live_state(claims)
        return {**claims, "rg": state["rights_group"]}, state


def session_state_sql(columns: tuple[str, ...] = ()) -> str:
    """The employee's status, the practice's two-factor rule, whether the session (``$3``) or
    the SSO session it came from (``$4``, the same sid for any other) is revoked and the
    employee's cutoff (tables ``employees``, ``practices``, ``revocations``,
    ``session_cutoffs`` of the service's database), and ``columns`` of the employee."""
    extra = "".join(f"e.{column}, " for column in columns)
    return f"""SELECT {extra}e.in_service, e.rights_group,
                      coalesce(p.two_factor_required, false) AS two_factor_required,
                      EXISTS (SELECT 1 FROM revocations r WHERE r.sid IN ($3, $4)) AS revoked,
                      (SELECT c.before FROM session_cutoffs c
                       WHERE c.practice = e.practice AND c.employee = e.id) AS cutoff
               FROM employees e LEFT JOIN practices p ON p.id = e.practice
               WHERE e.practice = $1 AND e.id = $2"""  # noqa: S608 - column names are ours
