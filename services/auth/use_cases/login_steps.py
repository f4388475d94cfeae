"""Where a login goes after its password: a changed password, the second factor, enrolment,
or done with a one-factor token. The step is recorded on the login (the statement that opens
it also settles the right guess) and answered with what the client needs for it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters import seen_steps
from services.auth.adapters.events import succeeded_data
from services.auth.api import LoginResponse, TokenResponse
from services.auth.domain import factors, passwords, tokens
from services.auth.domain.login import next_step, reaching, required_level
from services.auth.domain.records import Credential, Employee, Practice
from services.auth.use_cases.grants import Grants
from services.auth.use_cases.opened_logins import OpenedLogins
from services.auth.use_cases.tokens import Issuing
from shared import assurance
from shared.assurance import Level
from shared.outbox import EventWriter
from shared.topics import AUTH_EVENTS


def expiry_warning(practice: Practice, credential: Credential, now: datetime) -> datetime | None:
    """When the password expires, if that is within the policy's warning period."""
    warn_at = passwords.expires_at(practice.policy, credential.changed_at or now)
    if warn_at and warn_at - now <= timedelta(days=practice.policy.warn_before_days):
        return warn_at
    return None


@dataclass(frozen=True)
class LoginSteps:
    pool: asyncpg.Pool
    issuing: Issuing
    grants: Grants
    events: EventWriter
    #: How long a login waits at its second factor (or password change), and at enrolment.
    login_ttl: timedelta
    enrolment_ttl: timedelta
    #: The means → level table (``TWEESTAP_ASSURANCE_LEVELS``).
    levels: Mapping[str, Level]
    #: Logins opened at their second factor, as read back, for their TOTP step.
    opened: OpenedLogins

    async def advance(
        self,
        practice: Practice,
        employee: Employee,
        credential: Credential,
        factor_kinds: Sequence[str],
        login_id: str,
        now: datetime,
        existing: bool = False,
        fallback: bool = False,
        passed: uuid.UUID | None = None,
        second_factor: bool = False,
        asked_level: Level | None = None,
    ) -> LoginResponse:
        """Record where the login goes next and answer with that step (and, for the second
        factor, the factors it may use); ``existing``: a login that changed its password;
        ``passed``: the pending row of the right guess that opened the login, settled by the
        login's first write (it was no failure); ``second_factor``, ``asked_level``: asked for
        by the application whatever the practice requires (kept on the login for its later
        steps). A login that cannot reach the level that applies with a password and the
        employee's factors is refused (``assurance-level-too-low``, naming the level)."""
        needed = required_level(practice, employee.rights_group, asked_level, second_factor)
        below = not assurance.at_least(assurance.level_of("password", self.levels), needed)
        strong = factors.strong_count(factor_kinds)
        step = next_step(practice, credential, strong, now, second_factor=second_factor or below)
        expires_at = now + (self.enrolment_ttl if step == "enrol" else self.login_ttl)
        allowed = fallback and practice.policy.fallback_max_uses > 0
        offered = factors.offered(factor_kinds, allowed) if step == "second_factor" else []
        offered = reaching(offered, needed, self.levels)
        if (step == "second_factor" and not offered) or (
            step == "enrol" and not reaching(("totp",), needed, self.levels)
        ):
            raise problems.assurance_level_too_low(needed)
        response = LoginResponse(
            login_id=login_id, next=step, factors=offered, expires_at=expires_at
        )

        opening = seen_steps.Opening(
            login_id, practice.id, employee.id, now, expires_at, passed, second_factor, needed
        )
        async with self.pool.acquire() as conn:
            if existing:
                async with conn.transaction():
                    await self._move(conn, login_id, step, expires_at)
                    if step == "done":
                        response.token = await self._done(conn, practice, employee, now)
            elif step == "done":
                # A password-only login: one call opens it (settling the guess) and reads the
                # session cutoff, one statement completes it; no transaction around them.
                cutoff = await seen_steps.open_password_login(conn, opening)
                response.token = await self._complete(
                    conn, practice, employee, login_id, cutoff, now
                )
            else:
                # The usual case (a second factor, a new password, enrolment): one call opens
                # the login and settles the guess, without a transaction around it, and at the
                # second factor reads it back for a TOTP step in one round trip.
                opened = await seen_steps.open_login(conn, opening, step)
                if opened is not None and "totp" in offered:
                    self.opened.keep(opened)
        if step == "enrol":
            response.enrolment_token = self.grants.enrolment_token(
                employee, login_id, now, expires_at
            )
        response.password_expires_at = expiry_warning(practice, credential, now)
        return response

    async def _move(
        self, conn: asyncpg.Connection, login_id: str, step: str, expires_at: datetime
    ) -> None:
        """The login that changed its password goes on to ``step`` (once)."""
        if not await repo.advance_login(conn, login_id, step, expires_at, repo.CHANGING_PASSWORD):
            raise problems.login_gone()

    async def _done(
        self, conn: asyncpg.Connection, practice: Practice, employee: Employee, now: datetime
    ) -> TokenResponse:
        """A password-only login is complete: its session and token, in the caller's
        transaction."""
        cutoff = await repo.session_cutoff(conn, practice.id, employee.id)
        session = self._password_session(practice, employee, cutoff, now)
        token = await self.issuing.issue(conn, session, now, "token.issued")
        await self.succeeded(conn, practice.id, employee, session, "password", now)
        return token

    async def _complete(
        self,
        conn: asyncpg.Connection,
        practice: Practice,
        employee: Employee,
        login_id: str,
        cutoff: datetime | None,
        now: datetime,
    ) -> TokenResponse:
        """A password-only login just opened, completed by one statement
        (:func:`repo.complete_login`): its token, ``token.issued`` and ``login.succeeded``
        queued, the failures cleared, the last login and the session recorded."""
        session = self._password_session(practice, employee, cutoff, now)
        token, issued = self.issuing.issued(session, now, "token.issued")
        data = succeeded_data(
            employee, session, self.grants.lifetimes.session_end(session), "password"
        )
        succeeded = self.events.outgoing(
            AUTH_EVENTS, "login.succeeded", practice.id, employee.id, data, now
        )
        rows = [self.events.row(AUTH_EVENTS, issued), self.events.row(*succeeded)]
        key = employee.username_key
        _, done = await repo.complete_login(
            conn, login_id, practice.id, employee.id, key, now, rows
        )
        if not done:
            raise problems.login_gone()  # cannot happen: just opened, and only here
        return token

    def _password_session(
        self, practice: Practice, employee: Employee, cutoff: datetime | None, now: datetime
    ) -> tokens.Session:
        return tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            ("pwd",),
            tokens.SINGLE_FACTOR_AAL,
            tokens.session_start(now, cutoff),
            assurance.level_of("password", self.levels),
        )

    async def succeeded(
        self,
        conn: asyncpg.Connection,
        practice_id: str,
        employee: Employee,
        session: tokens.Session,
        means: str,
        now: datetime,
    ) -> None:
        """A login completed (in the caller's transaction): the failures cleared, the last
        login recorded, ``login.succeeded`` with its means, amr and level (the audit trail)."""
        key = employee.username_key
        data = succeeded_data(employee, session, self.grants.lifetimes.session_end(session), means)
        zone = self.grants.zone
        await repo.login_succeeded(conn, practice_id, employee.id, key, now, data, zone)
        await self.events.emit(
            conn, AUTH_EVENTS, "login.succeeded", practice_id, employee.id, data, now
        )
