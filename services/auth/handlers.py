"""Use cases of the auth service: password login, password changes, token issue, renewal,
revocation and introspection, keys, bootstrap (the second step of a login is in
``second_factor.py``, the shared state and helpers in ``core.py``). HTTP and Kafka entry points
call these; they call the domain rules, the repository, the hasher and the signer."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.auth import problems
from services.auth.adapters import fallbacks
from services.auth.adapters import repository as repo
from services.auth.adapters.hasher import HasherBusy
from services.auth.api import LoginResponse, PasswordChanged, TokenResponse
from services.auth.core import Attempt
from services.auth.domain import factors, passwords, tokens
from services.auth.domain.fallback import WINDOW as FALLBACK_WINDOW
from services.auth.domain.login import next_step
from services.auth.domain.records import Credential, Employee, Practice
from services.auth.fallback import Fallback
from shared import actors, directory_trust, logs, otp, replicas
from shared.events import (
    EmployeeUpserted,
    PasswordCredential,
    PasswordPolicy,
    PracticeUpserted,
    RevocationReason,
    SessionRevoked,
    credential_aad,
    utcnow,
)
from shared.outbox import outbox_row, publish
from shared.problems import Problem, not_found, unauthorized
from shared.tokens import require_admin
from shared.topics import (
    AUTH_CREDENTIALS,
    AUTH_EVENTS,
    DIRECTORY_EMPLOYEES,
    DIRECTORY_PRACTICES,
    STS_REVOCATIONS,
)
from shared.usernames import normalise_username


@dataclass
class Auth(Fallback):
    """Password login, password changes, tokens and keys (the second step is
    :class:`SecondFactor`'s, the certificate fallback :class:`Fallback`'s)."""

    async def login(self, practice_id: str, username: str, password: str) -> LoginResponse:
        """Check the password. Unknown practice, unknown user and wrong password answer the
        same, after the same argon2id work, and all count toward the same lockout."""
        started = time.perf_counter()
        now = utcnow()
        key = normalise_username(username)
        logs.bind(practice=practice_id)  # this request's log lines name the practice
        async with self.pool.acquire() as conn:
            view = await repo.login_view(conn, practice_id, key, now)
        practice, employee = view.practice, view.employee
        policy = practice.policy if practice else PasswordPolicy()
        try:
            attempt = await self._reserve_attempt(practice_id, key, policy, now)
        except Problem:
            self.metrics.login("locked", started)
            raise
        credential = self.open_credential(view.credential) if view.credential else None
        hashed = credential.hash if credential else None
        ok = await self._verify_attempt(attempt, self.hasher.verify(hashed, password))
        if not ok or practice is None or employee is None or credential is None:
            await self._attempt_failed(attempt, employee.id if employee else None)
            self.metrics.login("failure", started)
            raise problems.invalid_credentials()
        await self._attempt_passed(attempt)
        if not self._active(practice, employee, view.last_login, now):
            self.metrics.login("disabled", started)
            raise problems.account_disabled()
        response = await self._continue(
            practice,
            employee,
            credential,
            view.factor_kinds,
            uuid.uuid4().hex,
            now,
            fallback=view.fallback,
        )
        self.metrics.login("success", started)
        return response

    def _active(
        self, practice: Practice, employee: Employee, last_login: datetime | None, now: datetime
    ) -> bool:
        return employee.in_service and not passwords.is_dormant(practice.policy, last_login, now)

    async def _continue(
        self,
        practice: Practice,
        employee: Employee,
        credential: Credential,
        factor_kinds: Sequence[str],
        login_id: str,
        now: datetime,
        existing: bool = False,
        fallback: bool = False,
    ) -> LoginResponse:
        """Record where the login goes next and answer with that step (and, for the second
        factor, the factors it may use)."""
        step = next_step(
            practice, credential, strong_factors=factors.strong_count(factor_kinds), now=now
        )
        ttl = (
            self.settings.enrolment_token_seconds
            if step == "enrol"
            else self.settings.login_ttl_seconds
        )
        expires_at = now + timedelta(seconds=ttl)
        allowed = fallback and practice.policy.fallback_max_uses > 0
        offered = factors.offered(factor_kinds, allowed) if step == "second_factor" else []
        response = LoginResponse(
            login_id=login_id, next=step, factors=offered, expires_at=expires_at
        )
        async with self.pool.acquire() as conn, conn.transaction():
            if existing:
                moved = await repo.advance_login(
                    conn, login_id, step, expires_at, repo.CHANGING_PASSWORD
                )
                if not moved:
                    raise problems.login_gone()
            else:
                await repo.create_login(
                    conn, login_id, practice.id, employee.id, step, now, expires_at
                )
            if step == "done":
                cutoff = await repo.session_cutoff(conn, practice.id, employee.id)
                session = tokens.Session.new(
                    practice.id,
                    employee.id,
                    employee.rights_group,
                    ("pwd",),
                    tokens.SINGLE_FACTOR_ACR,
                    tokens.session_start(now, cutoff),
                )
                response.token = await self._issue(conn, session, now, "token.issued")
                await self._login_succeeded(conn, practice.id, employee, now)
        if step == "enrol":
            response.enrolment_token = self._enrolment_token(employee, login_id, now, expires_at)
        warn_at = passwords.expires_at(practice.policy, credential.changed_at or now)
        if warn_at and warn_at - now <= timedelta(days=practice.policy.warn_before_days):
            response.password_expires_at = warn_at
        return response

    async def _login_succeeded(
        self, conn: asyncpg.Connection, practice_id: str, employee: Employee, now: datetime
    ) -> None:
        key = employee.username_key
        await repo.reset_failures(conn, practice_id, key, now)
        await repo.record_login(conn, practice_id, employee.id, now)
        await self.emit(
            conn,
            AUTH_EVENTS,
            "login.succeeded",
            practice_id,
            employee.id,
            {
                "username": key,
                "employee": employee.id,
                "actor": actors.actor(employee.id, employee.rights_group),
            },
            now,
        )

    def _enrolment_token(
        self, employee: Employee, login_id: str, now: datetime, expires_at: datetime
    ) -> str:
        claims = {
            "iss": self.settings.issuer,
            "sub": employee.id,
            "practice": employee.practice,
            "sid": login_id,
            "lid": login_id,
            "aud": self.settings.token_audience,
            "client_id": self.settings.token_client_id,
            "scope": tokens.ENROL_SCOPE,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "zone": self.settings.zone,
        }
        return self.signer.sign(claims, now)

    async def change_password_in_login(self, login_id: str, new_password: str) -> LoginResponse:
        """The new password at a login's ``change_password`` step. The step is spent once (a
        conditional update claims it): of two concurrent calls one goes on, the other finds
        the login gone; a refused password hands the step back for another try."""
        now = utcnow()
        async with self.pool.acquire() as conn:
            row = await repo.claim_login(
                conn, login_id, "change_password", repo.CHANGING_PASSWORD, now
            )
        if row is None:
            raise problems.login_gone()
        try:
            async with self.pool.acquire() as conn:
                practice, employee, credential = await self._load(
                    conn, row["practice"], row["employee"]
                )
            await self.store_password(
                practice, employee, credential, new_password, False, True, now
            )
        except Exception:
            async with self.pool.acquire() as conn:
                await repo.claim_login(
                    conn, login_id, repo.CHANGING_PASSWORD, "change_password", now
                )
            raise
        async with self.pool.acquire() as conn:
            fresh = await self._load(conn, practice.id, employee.id)
            kinds = await repo.factor_kinds(conn, practice.id, employee.id)
            fallback = await fallbacks.has_usable_certificate(conn, practice.id, employee.id, now)
        return await self._continue(
            practice, employee, fresh[2], kinds, login_id, now, existing=True, fallback=fallback
        )

    async def change_own_password(
        self, claims: dict[str, Any], current_password: str, new_password: str
    ) -> PasswordChanged:
        """The employee changes their own password: the current one is a counted guess (like a
        login), a reused one counts too. Every session of the employee ends (a cutoff on
        ``sts.revocations``, as for a deactivation) and the caller goes on in a new session
        with the same factors: the answer carries its token."""
        now = utcnow()
        async with self.pool.acquire() as conn:
            practice, employee, credential = await self._load(
                conn, claims["practice"], claims["sub"]
            )
        attempt = await self._reserve_attempt(
            practice.id, employee.username_key, practice.policy, now
        )
        if not await self._verify_attempt(
            attempt, self.hasher.verify(credential.hash, current_password)
        ):
            await self._attempt_failed(attempt, employee.id)
            raise problems.invalid_credentials()
        await self._attempt_passed(attempt)
        changed = await self.store_password(
            practice, employee, credential, new_password, False, True, now, end_sessions=True
        )
        caller = tokens.Session.from_claims(claims)
        issued = utcnow()
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            caller.amr,
            caller.acr,
            tokens.session_start(issued, now),  # after the cutoff
        )
        async with self.pool.acquire() as conn, conn.transaction():
            changed.token = await self._issue(conn, session, issued, "token.issued")
        return changed

    async def set_password(
        self,
        claims: dict[str, Any],
        practice_id: str,
        employee_id: str,
        password: str,
        temporary: bool,
    ) -> PasswordChanged:
        """An administrator (rights group 1 of the same practice) sets a password; a temporary
        one must be changed at the next login, so it need not meet the policy."""
        require_admin(claims, practice_id)
        now = utcnow()
        async with self.pool.acquire() as conn:
            practice = await repo.practice(conn, practice_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            row = await repo.credential_row(conn, practice_id, employee_id) if employee else None
        if practice is None or employee is None:
            raise not_found("No such employee in this practice.")
        credential = self.open_credential(row) if row else None
        return await self.store_password(
            practice,
            employee,
            credential,
            password,
            temporary,
            not temporary,
            now,
            by=claims["sub"],
            end_sessions=True,
        )

    async def _verify_attempt(self, attempt: Attempt, verdict: Awaitable[bool]) -> bool:
        """The hasher's ``verdict`` on a reserved guess (the caller settles it); one the hasher
        refused (busy, 503) was no guess: its pending row goes, so an overload locks no one."""
        try:
            return await verdict
        except HasherBusy:
            await self._attempt_passed(attempt)
            raise

    async def _load(
        self, conn: asyncpg.Connection, practice_id: str, employee_id: str
    ) -> tuple[Practice, Employee, Credential]:
        practice = await repo.practice(conn, practice_id)
        employee = await repo.employee(conn, practice_id, employee_id)
        row = await repo.credential_row(conn, practice_id, employee_id)
        if practice is None or employee is None or row is None:
            raise unauthorized("This account no longer exists.")
        return practice, employee, self.open_credential(row)

    async def store_password(
        self,
        practice: Practice,
        employee: Employee,
        credential: Credential | None,
        password: str,
        temporary: bool,
        enforce_policy: bool,
        now: datetime,
        *,
        by: str | None = None,
        end_sessions: bool = False,
    ) -> PasswordChanged:
        """Store a new password (sealed, replicated on ``auth.credentials``). ``by``: the
        administrator who set it (None: the employee themselves, whose reused password counts
        as a failed attempt toward the lockout, so the history cannot be probed without end).
        ``end_sessions``: every session of the employee that started until ``now`` ends, in the
        same transaction (cutoff and ``sessions.revoked`` on ``sts.revocations``)."""
        policy = practice.policy
        score = passwords.strength(password, (practice.name, employee.name, employee.username))
        if enforce_policy and score < policy.min_strength:
            raise Problem(
                422,
                "password-too-weak",
                "Password too weak",
                f"Strength {score} is below the practice's minimum of {policy.min_strength}.",
                strength=score,
                min_strength=policy.min_strength,
            )
        previous = [credential.hash, *credential.history] if credential else []
        if enforce_policy and policy.history and previous:
            await self._refuse_reuse(practice, employee, previous[: policy.history], password, by)
        new_hash = await self.hasher.hash(password)
        history = previous[: max(policy.history - 1, 0)] if policy.history else []
        sealed = self.keyring.seal(
            json.dumps({"hash": new_hash, "history": history}).encode(),
            credential_aad(practice.id, employee.id),
        )
        event = PasswordCredential(
            employee=employee.id,
            sealed=sealed,
            changed_at=now,
            must_change=temporary,
            strength=score,
            version=(credential.version if credential else 0) + 1,
            updated_at=now,
            zone=self.settings.zone,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.upsert_credential(conn, practice.id, event)
            await self.emit(
                conn,
                AUTH_CREDENTIALS,
                "credential.password",
                practice.id,
                employee.id,
                event.model_dump(mode="json"),
                now,
            )
            await self.emit(
                conn,
                AUTH_EVENTS,
                "password.changed",
                practice.id,
                employee.id,
                {
                    "temporary": temporary,
                    "strength": score,
                    "by": by or employee.id,
                    # Only an administrator (rights group 1) sets another's password.
                    "actor": actors.actor(by or employee.id, 1 if by else employee.rights_group),
                },
                now,
            )
            if end_sessions and credential is not None:  # no password, no session to end
                await self._end_sessions(conn, practice.id, employee.id, now)
        self.metrics.password_changes.labels(**self.metrics.base()).inc()
        return PasswordChanged(changed_at=now, strength=score, must_change=temporary)

    async def _refuse_reuse(
        self,
        practice: Practice,
        employee: Employee,
        history: list[str],
        password: str,
        by: str | None,
    ) -> None:
        """422 ``password-reused`` if ``password`` is one of ``history``. The employee's own
        check is a counted guess (refused while locked, a match is a failure): each one costs
        up to ``policy.history`` argon2 verifies and tells whether an old password matches."""
        attempt = None
        if by is None:
            attempt = await self._reserve_attempt(
                practice.id, employee.username_key, practice.policy, utcnow()
            )
        if attempt is None:
            reused = await self.hasher.matches_any(history, password)
        else:
            reused = await self._verify_attempt(attempt, self.hasher.matches_any(history, password))
        if attempt is not None:
            await (self._attempt_failed if reused else self._attempt_passed)(attempt)
        if reused:
            raise Problem(
                422,
                "password-reused",
                "Password used before",
                f"The password may not be one of the last {practice.policy.history}.",
            )

    async def _end_sessions(
        self, conn: asyncpg.Connection, practice_id: str, employee_id: str, now: datetime
    ) -> None:
        """Every session of the employee that started until ``now`` ends, here at once and in
        every zone and service by ``sessions.revoked`` (the mechanism of a deactivation); a
        session started after it in the same second starts at the next (session_start)."""
        await replicas.end_sessions(self, conn, practice_id, employee_id, now, "password_changed")

    async def _issue(
        self, conn: asyncpg.Connection, session: tokens.Session, now: datetime, kind: str
    ) -> TokenResponse:
        started = time.perf_counter()
        grant = self.grant(session, now)
        token = self.signer.sign(grant.claims, now)
        await publish(
            conn, self.settings, AUTH_EVENTS, self._token_event(kind, session, grant, now)
        )
        self.metrics.tokens(kind, started)
        return TokenResponse(
            token=token,
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
        )

    async def renew(self, token: str) -> TokenResponse:
        """A new token valid X from now (capped at the session's end), in one round trip."""
        started = time.perf_counter()
        # The live-session rules are checked in renew_session's one statement (one round
        # trip on the hottest path), the same rules as TokenGate.live_session.
        claims = await self.gate.signed_session_claims(token)
        session = tokens.Session.from_claims(claims)
        now = utcnow()
        try:
            grant = self.grant(session, now)
        except tokens.SessionEnded:
            raise Problem(
                401,
                "session-expired",
                "Session reached its maximum",
                "The session may not be extended further; log in again.",
            ) from None
        event = self._token_event("token.renewed", session, grant, now)
        state = await repo.renew_session(
            self.pool,
            session.practice,
            session.employee,
            session.sid,
            outbox_row(self.settings, AUTH_EVENTS, event),
            single_factor=session.acr == tokens.SINGLE_FACTOR_ACR,
            auth_time=session.auth_time,
        )
        if state is None or not state["queued"]:
            raise Problem(401, "session-revoked", "Session ended", "Log in again.")
        signed = self.signer.sign({**grant.claims, "rg": state["rights_group"]}, now)
        self.metrics.tokens("token.renewed", started)
        return TokenResponse(
            token=signed,
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
        )

    async def revoke(self, token: str, reason: RevocationReason = "logout") -> None:
        """Log out: holding the signed token is enough, even when the session already ended."""
        claims = await self.gate.signed_session_claims(token)
        session = tokens.Session.from_claims(claims)
        now = utcnow()
        body = SessionRevoked(
            sid=session.sid,
            employee=session.employee,
            revoked_at=now,
            session_expires_at=self.lifetimes.session_end(session),
            reason=reason,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await replicas.add_revocation(
                conn, session.sid, session.practice, session.employee, now, body.session_expires_at
            )
            if not fresh:
                return
            await self.emit(
                conn,
                STS_REVOCATIONS,
                "session.revoked",
                session.practice,
                session.employee,
                body.model_dump(mode="json"),
                now,
            )
            await self.emit(
                conn,
                AUTH_EVENTS,
                "token.revoked",
                session.practice,
                session.employee,
                {"sid": session.sid, "reason": reason},
                now,
            )
        self.metrics.tokens("token.revoked", None)

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662: ``{"active": false}`` for anything not a live session token; when active,
        the rights group is the directory's now, not the token's."""
        try:
            claims = await self.gate.live_session(token)
        except Problem:
            return {"active": False}
        async with self.pool.acquire() as conn:
            employee = await repo.employee(conn, claims["practice"], claims["sub"])
        if employee is None:
            return {"active": False}
        shown = (
            *("sub", "iss", "aud", "client_id", "exp", "iat", "jti", "practice", "rg", "sid"),
            *("amr", "acr", "auth_time", "zone"),
        )
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": claims["scope"],
            "username": employee.username,
            **{k: claims[k] for k in shown if k in claims},
        }

    async def jwks(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            return {"keys": await replicas.public_keys(conn, utcnow())}

    async def start_keys(self) -> None:
        """At start: make sure this zone has a current key, announce every live key."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7510421)")
            await self.keystore.ensure_current(conn, now)
            await self.keystore.publish_all(conn, now)
        await self.load_keys()

    async def rotate_if_due(self) -> None:
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7510421)")
            if await self.keystore.ensure_current(conn, now):
                await self.keystore.publish_all(conn, now)
        await self.load_keys()

    async def housekeeping(self) -> None:
        """Delete finished logins, revocations of sessions past their end, inbox ids older than
        the broker's retention (no redelivery can come after that), TOTP steps too old to
        match, spent login codes and fallback nonces, fallback uses past their 30 days and cutoffs
        older than any session."""
        now = utcnow()
        retention = timedelta(milliseconds=self.settings.topics.retention_ms)
        async with self.pool.acquire() as conn:
            await conn.execute("DELETE FROM logins WHERE expires_at < $1", now - timedelta(hours=1))
            await conn.execute(
                "DELETE FROM revocations WHERE session_expires_at < $1", now - timedelta(hours=1)
            )
            await conn.execute("DELETE FROM inbox WHERE processed_at < $1", now - retention)
            await conn.execute(
                "DELETE FROM login_failures WHERE at < $1",
                now - timedelta(hours=self.settings.failure_memory_hours),
            )
            # A step an hour old can never match again (±1 step of drift).
            await conn.execute("DELETE FROM totp_steps WHERE step < $1", otp.time_step(now) - 120)
            window = timedelta(seconds=self.settings.otp_send_window_seconds)
            await conn.execute(
                "DELETE FROM login_codes WHERE expires_at < $1 AND created_at < $2",
                now - timedelta(hours=1),
                now - window,
            )
            await conn.execute(
                "DELETE FROM fallback_challenges WHERE expires_at < $1", now - timedelta(hours=1)
            )
            # Fallback uses count for 30 days.
            await conn.execute(
                "DELETE FROM fallback_uses WHERE at < $1",
                now - FALLBACK_WINDOW - timedelta(days=1),
            )
            # A cutoff older than the longest session can no longer revoke anything.
            await conn.execute(
                "DELETE FROM session_cutoffs WHERE before < $1",
                now - self.lifetimes.session_max - timedelta(hours=1),
            )

    async def load_keys(self) -> None:
        now = utcnow()
        async with self.pool.acquire() as conn:
            self.signer.set_signing_keys(await self.keystore.signing_keys(conn, now))
            self.signer.set_public_keys(await replicas.public_keys(conn, now))


async def bootstrap(
    auth: Auth,
    practice_id: str,
    practice_name: str,
    username: str,
    admin_name: str,
    password: str,
    email: str | None = None,
) -> str:
    """Create a practice and its first administrator (rights group 1) by publishing through
    the outbox like any writer; returns the administrator's employee id."""
    now = utcnow()
    async with auth.pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM credentials WHERE practice = $1", practice_id):
            raise Problem(409, "practice-exists", "Practice already bootstrapped")
    employee_id = uuid.uuid4().hex[:12]
    practice_body = PracticeUpserted(
        name=practice_name, email=email, version=1, updated_at=now, zone=auth.settings.zone
    )
    employee_body = EmployeeUpserted(
        employee=employee_id,
        username=username,
        name=admin_name,
        rights_group=1,
        version=1,
        updated_at=now,
        zone=auth.settings.zone,
    )
    practice = Practice(practice_id, practice_name, False, practice_body.password_policy)
    employee = Employee(practice_id, employee_id, username, admin_name, 1, True)
    async with auth.pool.acquire() as conn, conn.transaction():
        await auth.emit(
            conn,
            DIRECTORY_PRACTICES,
            "practice.upserted",
            practice_id,
            practice_id,
            practice_body.model_dump(mode="json"),
            now,
        )
        await auth.emit(
            conn,
            DIRECTORY_EMPLOYEES,
            "employee.upserted",
            practice_id,
            employee_id,
            directory_trust.tagged(auth.keyring, practice_id, employee_body),
            now,
        )
    await auth.store_password(practice, employee, None, password, False, False, now)
    return employee_id
