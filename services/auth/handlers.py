"""Use cases of the auth service: password login, the second factor, password changes, token
issue, renewal, revocation and introspection. HTTP and Kafka entry points call these; they call
the domain rules, the repository, the hasher and the signer."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.adapters.hasher import Hasher
from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.signer import Signer
from services.auth.api import ChallengeResponse, LoginResponse, PasswordChanged, TokenResponse
from services.auth.domain import factors, lockout, passwords, tokens
from services.auth.domain.factors import Factor
from services.auth.domain.login import next_step
from services.auth.domain.records import Credential, Employee, Practice
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared import otp, replicas
from shared.events import (
    Channel,
    EmployeeUpserted,
    Envelope,
    FactorCredential,
    PasswordCredential,
    PasswordPolicy,
    PracticeUpserted,
    RevocationReason,
    SessionRevoked,
    credential_aad,
    factor_aad,
    utcnow,
)
from shared.gate import TokenGate
from shared.notify import notify_request, request_notification
from shared.outbox import OutboxRow, outbox_row, publish
from shared.problems import Problem, not_found, unauthorized
from shared.sealing import Keyring, SealingError
from shared.tokens import require_admin
from shared.topics import (
    AUTH_CREDENTIALS,
    AUTH_EVENTS,
    DIRECTORY_EMPLOYEES,
    DIRECTORY_PRACTICES,
    FACTORS,
    NOTIFY_REQUESTS,
    STS_REVOCATIONS,
    Topic,
)

log = logging.getLogger(__name__)

# Problems are built fresh for each answer: a shared exception instance raised again and
# again would collect every raise's traceback (and the frames' locals) for good.


def _invalid_credentials() -> Problem:
    return Problem(
        401, "invalid-credentials", "Login failed", "Practice, username or password is not correct."
    )


def _account_disabled() -> Problem:
    return Problem(
        403,
        "account-disabled",
        "Account disabled",
        "This account is not in service or was not used for too long; "
        "ask the practice administrator.",
    )


def _factor_not_available() -> Problem:
    return Problem(
        422,
        "factor-not-available",
        "Factor not available",
        "This login cannot continue with that factor; choose one of the login's factors.",
    )


def _factor_not_ready() -> Problem:
    return Problem(
        409,
        "factor-not-ready",
        "Authenticator not known yet",
        "The authenticator just enrolled has not reached this service yet; try again shortly.",
    )


def _invalid_code() -> Problem:
    return Problem(401, "invalid-code", "Code not correct", "The code is not correct.")


def _code_expired() -> Problem:
    return Problem(401, "code-expired", "Code expired", "The code has expired; ask for a new one.")


def _code_already_used() -> Problem:
    return Problem(
        401,
        "code-already-used",
        "Code already used",
        "Each code works once; wait for the next code of the authenticator app.",
    )


CHANGE_RECOVERY_USED = "recovery code used"


def _login_code_aad(practice: str, employee: str, code_id: uuid.UUID) -> str:
    return f"login-code:{practice}:{employee}:{code_id}"


@dataclass
class _Passed:
    """A second factor that checked out: its ``amr`` and what the login's completion must also
    write (events, notifications), plus a new recovery code to hand out once."""

    amr: str
    events: list[tuple[Topic, Envelope]] = field(default_factory=list)
    recovery_code: str | None = None


_WAIT = object()
#: Where a login may take its second factor: after the password, or after enrolling.
_SECOND_STAGES = ("second_factor", "enrol")
#: Metric outcomes of second-factor verifications that end in a problem.
_OUTCOMES = {
    "invalid-code": "invalid",
    "code-already-used": "replayed",
    "code-expired": "expired",
    "account-locked": "locked",
    "account-disabled": "disabled",
}


@dataclass
class Auth:
    settings: AuthSettings
    pool: asyncpg.Pool
    hasher: Hasher
    signer: Signer
    keyring: Keyring
    keystore: KeyStore
    metrics: AuthMetrics
    gate: TokenGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = TokenGate(
            self.signer, self.pool, self.settings.issuer, self.settings.leeway_seconds
        )

    # -- helpers ---------------------------------------------------------------------------

    @property
    def lifetimes(self) -> tokens.Lifetimes:
        return tokens.Lifetimes(
            token=timedelta(seconds=self.settings.token_lifetime_seconds),
            session_max=timedelta(seconds=self.settings.session_max_seconds),
        )

    async def emit(
        self,
        conn: asyncpg.Connection,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
    ) -> Envelope:
        event = Envelope(
            type=type_,
            source=self.settings.source,
            time=now,
            practice=practice,
            subject=subject,
            data=data,
        )
        await publish(conn, self.settings, topic, event)
        return event

    def open_credential(self, row: Mapping[str, Any]) -> Credential:
        body = json.loads(
            self.keyring.open(row["sealed"], credential_aad(row["practice"], row["employee"]))
        )
        return Credential(
            hash=body["hash"],
            history=body["history"],
            changed_at=row["changed_at"],
            must_change=row["must_change"],
            strength=row["strength"],
            version=row["version"],
        )

    # -- password login --------------------------------------------------------------------

    async def login(self, practice_id: str, username: str, password: str) -> LoginResponse:
        """Check the password. Unknown practice, unknown user and wrong password answer the
        same, after the same argon2id work, and all count toward the same lockout."""
        started = time.perf_counter()
        now = utcnow()
        key = username.strip().lower()
        async with self.pool.acquire() as conn:
            view = await repo.login_view(conn, practice_id, key)
        practice, employee = view.practice, view.employee
        policy = practice.policy if practice else PasswordPolicy()
        state = lockout.lock_state(view.failures, view.reset_at, policy, now)
        if state.locked(now):
            self.metrics.login("locked", started)
            raise _locked(state, now)
        credential = self.open_credential(view.credential) if view.credential else None
        ok = await self.hasher.verify(credential.hash if credential else None, password)
        if not ok or practice is None or employee is None or credential is None:
            await self._record_failure(practice_id, key, policy, now)
            self.metrics.login("failure", started)
            raise _invalid_credentials()
        if not self._active(practice, employee, view.last_login, now):
            self.metrics.login("disabled", started)
            raise _account_disabled()
        response = await self._continue(
            practice, employee, credential, view.factor_kinds, uuid.uuid4().hex, now
        )
        self.metrics.login("success", started)
        return response

    async def _record_failure(
        self, practice_id: str, key: str, policy: PasswordPolicy, now: datetime
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await self._failure(conn, practice_id, key, policy, now)

    async def _failure(
        self,
        conn: asyncpg.Connection,
        practice_id: str,
        key: str,
        policy: PasswordPolicy,
        now: datetime,
        factor: str | None = None,
    ) -> None:
        """One failed attempt for the username (a wrong password or a wrong second factor,
        both count toward the same lockout), in the caller's transaction."""
        data: dict[str, Any] = {"username": key, "zone": self.settings.zone}
        if factor is not None:
            data["factor"] = factor
        event = await self.emit(
            conn, AUTH_EVENTS, "login.failed", practice_id, f"user:{key}", data, now
        )
        await repo.add_failure(conn, practice_id, key, now, self.settings.zone, event.id)
        failures, reset_at = await repo.failures(conn, practice_id, key)
        state = lockout.lock_state(failures, reset_at, policy, now)
        if state.locked(now) and state.locked_until is not None:
            self.metrics.lockouts.labels(**self.metrics.base()).inc()
            await self.emit(
                conn,
                AUTH_EVENTS,
                "account.locked",
                practice_id,
                f"user:{key}",
                {"username": key, "locked_until": state.locked_until.isoformat()},
                now,
            )

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
        offered = factors.offered(factor_kinds) if step == "second_factor" else []
        response = LoginResponse(
            login_id=login_id, next=step, factors=offered, expires_at=expires_at
        )
        async with self.pool.acquire() as conn, conn.transaction():
            if existing:
                await repo.advance_login(conn, login_id, step, expires_at)
            else:
                await repo.create_login(
                    conn, login_id, practice.id, employee.id, step, now, expires_at
                )
            if step == "done":
                session = tokens.Session.new(
                    practice.id,
                    employee.id,
                    employee.rights_group,
                    ("pwd",),
                    tokens.SINGLE_FACTOR_ACR,
                    now,
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
        key = employee.username.lower()
        await repo.reset_failures(conn, practice_id, key, now)
        await repo.record_login(conn, practice_id, employee.id, now)
        await self.emit(
            conn,
            AUTH_EVENTS,
            "login.succeeded",
            practice_id,
            employee.id,
            {"username": key, "employee": employee.id},
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
            "scope": tokens.ENROL_SCOPE,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "zone": self.settings.zone,
        }
        return self.signer.sign(claims, now)

    # -- second factor ---------------------------------------------------------------------

    def _check_step(self, step: repo.SecondStep, now: datetime) -> None:
        """Lockout first, as the password step does; then the account must still be usable."""
        state = lockout.lock_state(step.failures, step.reset_at, step.practice.policy, now)
        if state.locked(now):
            raise _locked(state, now)
        if not step.employee.in_service:
            raise _account_disabled()

    def _open_factor(self, practice: str, employee: str, factor: Factor) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(
            self.keyring.open(factor.sealed, factor_aad(practice, employee, factor.id))
        )
        return body

    async def challenge(
        self, login_id: str, factor: Literal["sms", "email", "certificate"]
    ) -> ChallengeResponse:
        """Send an SMS or e-mail login code for a login at its second step: at most
        ``otp_max_sends`` per employee per window, valid ``otp_code_seconds``, stored sealed,
        sent through the notifier."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            step = await repo.second_step(conn, login_id, ("second_factor",), now, lock=True)
            if step is None:
                raise _login_gone()
            self._check_step(step, now)
            candidates = [] if factor == "certificate" else factors.usable(step.factors, factor)
            if factor == "certificate" or not candidates:
                self.metrics.code_sent(factor, "unavailable")
                raise _factor_not_available()
            channel: Channel = "sms" if factor == "sms" else "email"
            practice, employee = step.practice, step.employee
            # Sends are counted per employee, across the employee's logins: serialise them.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"login-codes:{practice.id}:{employee.id}",
            )
            window = self.settings.otp_send_window_seconds
            sent, oldest = await repo.recent_sends(
                conn, practice.id, employee.id, now - timedelta(seconds=window)
            )
            if sent >= self.settings.otp_max_sends:
                self.metrics.code_sent(channel, "too_many")
                raise Problem(
                    429,
                    "too-many-codes",
                    "Too many codes",
                    "Too many codes were sent in a short time; try again later.",
                    retry_after=factors.retry_after(oldest or now, window, now),
                )
            address = str(self._open_factor(practice.id, employee.id, candidates[0])["to"])
            code = otp.numeric_code(self.settings.otp_code_digits)
            code_id = uuid.uuid4()
            expires_at = now + timedelta(seconds=self.settings.otp_code_seconds)
            await repo.add_login_code(
                conn,
                code_id,
                login_id,
                practice.id,
                employee.id,
                channel,
                self.keyring.seal(
                    code.encode(), _login_code_aad(practice.id, employee.id, code_id)
                ),
                now,
                expires_at,
            )
            request = notify_request(
                self.settings,
                self.keyring,
                practice.id,
                employee.id,
                channel,
                "login_code",
                address,
                {
                    "practice_name": practice.name,
                    "employee_name": employee.name,
                    "expires_minutes": factors.expires_minutes(self.settings.otp_code_seconds),
                },
                {"code": code},
                now=now,
            )
            await request_notification(conn, self.settings, request)
        self.metrics.code_sent(channel, "sent")
        return ChallengeResponse(
            factor=channel, sent_to=factors.mask(channel, address), expires_at=expires_at
        )

    async def verify_second_factor(
        self, login_id: str, factor: str, code: str | None
    ) -> TokenResponse:
        """The second step: the code of one of the employee's factors completes the login
        (once) with a two-factor token. A login at the ``enrol`` step continues here once the
        authenticator the enrolment wizard confirmed has arrived (waiting a little for it)."""
        deadline: float | None = None
        while True:
            started = time.perf_counter()
            async with self.pool.acquire() as conn:
                if factor == "totp":
                    outcome = await self._attempt_totp(conn, login_id, code or "")
                else:
                    outcome = await self._attempt_code(conn, login_id, factor, code or "")
            if isinstance(outcome, TokenResponse):
                self.metrics.second_factor(factor, "success")
                self.metrics.tokens("token.issued", started)
                return outcome
            if isinstance(outcome, Problem):
                self.metrics.second_factor(factor, _OUTCOMES.get(outcome.slug, outcome.slug))
                raise outcome
            if deadline is None:
                deadline = time.monotonic() + self.settings.factor_wait_seconds
            if not await self._wait_for_authenticator(login_id, deadline):
                self.metrics.second_factor(factor, "not_ready")
                raise _factor_not_ready()

    async def _wait_for_authenticator(self, login_id: str, deadline: float) -> bool:
        interval = 0.05
        while True:
            if await repo.has_active_totp(self.pool, login_id):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, 0.25)

    async def _open_step(
        self, conn: asyncpg.Connection, login_id: str, factor: str, now: datetime, lock: bool
    ) -> tuple[repo.SecondStep, list[Factor]] | Problem | object:
        """The open login and the employee's factors of that kind, after the lockout and the
        account checks; ``_WAIT`` at the enrol step before the authenticator has arrived."""
        step = await repo.second_step(conn, login_id, _SECOND_STAGES, now, lock)
        if step is None:
            return _login_gone()
        try:
            self._check_step(step, now)
        except Problem as problem:
            return problem
        # At the enrol step only the authenticator just enrolled completes the login.
        enrolling = step.stage == "enrol"
        if factor == "certificate" or (enrolling and factor != "totp"):
            return _factor_not_available()
        candidates = factors.usable(step.factors, factor)
        if not candidates:
            return _WAIT if enrolling else _factor_not_available()
        return step, candidates

    async def _attempt_totp(
        self, conn: asyncpg.Connection, login_id: str, code: str
    ) -> TokenResponse | Problem | object:
        """The common case, in two round trips and no explicit transaction: read the login,
        then one statement that spends the time step and completes the login (at most once:
        ``done`` is set only on an open login, and only if the step was new)."""
        now = utcnow()
        opened = await self._open_step(conn, login_id, "totp", now, lock=False)
        if not isinstance(opened, tuple):
            return opened
        step, candidates = opened
        practice, employee = step.practice, step.employee
        matched = self._match_totp(step, candidates, code, now)
        if matched is None:
            async with conn.transaction():
                await self._second_factor_failed(conn, step, "totp", now)
            return _invalid_code()
        factor, used_step = matched
        data = {"employee": employee.id, "factor": factor.id, "step": used_step}
        used = self._event(AUTH_EVENTS, "totp.used", practice.id, employee.id, data, now)
        token, rows = self._two_factor_token(step, _Passed("otp", [used]), now)
        new_step, done = await repo.complete_login(
            conn,
            step.login_id,
            practice.id,
            employee.id,
            employee.username.lower(),
            now,
            rows,
            totp_step=(factor.id, used_step),
        )
        if done:
            return token
        if new_step:
            return _login_gone()  # completed or expired meanwhile
        async with conn.transaction():
            # A login completed meanwhile with this very step (the same code sent twice, a
            # double click) is no replay: only a login still open after the step was spent.
            if await repo.second_step(conn, login_id, _SECOND_STAGES, now, lock=True) is None:
                return _login_gone()
            await self._totp_replayed(conn, step, factor, used_step, now)
        return _code_already_used()

    async def _attempt_code(
        self, conn: asyncpg.Connection, login_id: str, factor: str, code: str
    ) -> TokenResponse | Problem | object:
        """SMS, e-mail and recovery codes: one transaction with the login row locked, so a
        code's tries are counted exactly and the login completes once."""
        now = utcnow()
        async with conn.transaction():
            opened = await self._open_step(conn, login_id, factor, now, lock=True)
            if not isinstance(opened, tuple):
                return opened
            step, candidates = opened
            result: _Passed | Problem
            if factor == "recovery":
                used = self._check_recovery(step, candidates, code)
                if used is None:
                    result = _invalid_code()
                else:
                    result = _Passed(factors.AMR["recovery"])
                    await self._renew_recovery(conn, step, used, result, now)
            else:
                result = await self._check_login_code(conn, step, factor, code, now)
            if isinstance(result, Problem):
                await self._second_factor_failed(conn, step, factor, now)
                return result
            token, rows = self._two_factor_token(step, result, now)
            _, done = await repo.complete_login(
                conn,
                step.login_id,
                step.practice.id,
                step.employee.id,
                step.employee.username.lower(),
                now,
                rows,
            )
            if not done:
                raise _login_gone()  # cannot happen: the row is locked
        return token

    async def _second_factor_failed(
        self, conn: asyncpg.Connection, step: repo.SecondStep, factor: str, now: datetime
    ) -> None:
        await self._failure(
            conn,
            step.practice.id,
            step.employee.username.lower(),
            step.practice.policy,
            now,
            factor,
        )

    def _match_totp(
        self, step: repo.SecondStep, candidates: list[Factor], code: str, now: datetime
    ) -> tuple[Factor, int] | None:
        """The authenticator and the time step (±1) whose code this is."""
        started = time.perf_counter()
        try:
            for candidate in candidates:
                try:
                    opened = self._open_factor(step.practice.id, step.employee.id, candidate)
                    secret = str(opened["secret"])
                except (SealingError, KeyError, ValueError):
                    log.warning("factor %s does not open; skipped", candidate.id)
                    continue
                found = otp.match_totp(secret, code, now)
                if found is not None:
                    return candidate, found
            return None
        finally:
            self.metrics.totp_checked(started)

    async def _totp_replayed(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        factor: Factor,
        used_step: int,
        now: datetime,
    ) -> None:
        """A spent time step came again: a failure, an event, and an e-mail to the employee
        (someone may have their code). The code that confirmed the enrolment, typed again at
        once, is most likely the employee's own: refused and recorded, but no alarm e-mail."""
        practice, employee = step.practice, step.employee
        await self._second_factor_failed(conn, step, "totp", now)
        confirmation = used_step == factor.confirmed_step
        await self.emit(
            conn,
            AUTH_EVENTS,
            "totp.replayed",
            practice.id,
            employee.id,
            {
                "employee": employee.id,
                "factor": factor.id,
                "step": used_step,
                "confirmation": confirmation,
            },
            now,
        )
        if step.email and not confirmation:
            await request_notification(
                conn,
                self.settings,
                notify_request(
                    self.settings,
                    self.keyring,
                    practice.id,
                    employee.id,
                    "email",
                    "totp_replay",
                    step.email,
                    {
                        "practice_name": practice.name,
                        "employee_name": employee.name,
                        "used_at": factors.format_time(now),
                    },
                    now=now,
                ),
            )

    async def _check_login_code(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        channel: str,
        code: str,
        now: datetime,
    ) -> _Passed | Problem:
        """Only the newest code sent for this login on this channel counts; it works once, and
        not after ``otp_max_attempts`` wrong tries (void)."""
        row = await repo.newest_login_code(conn, step.login_id, channel)
        if row is None or row["used"] or row["attempts"] >= self.settings.otp_max_attempts:
            return _invalid_code()
        if row["expires_at"] <= now:
            return _code_expired()
        stored = self.keyring.open(
            row["sealed"], _login_code_aad(row["practice"], row["employee"], row["id"])
        )
        typed = code.strip().replace(" ", "").encode()
        ok = hmac.compare_digest(typed, stored)
        await repo.login_code_tried(conn, row["id"], used=ok)
        return _Passed(factors.AMR[channel]) if ok else _invalid_code()

    def _check_recovery(
        self, step: repo.SecondStep, candidates: list[Factor], code: str
    ) -> Factor | None:
        """The recovery factor whose code this is, if any."""
        for candidate in candidates:
            try:
                stored = str(
                    self._open_factor(step.practice.id, step.employee.id, candidate)["hash"]
                )
            except (SealingError, KeyError, ValueError):
                log.warning("factor %s does not open; skipped", candidate.id)
                continue
            if otp.same_code(code, stored):
                return candidate
        return None

    async def _renew_recovery(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        used: Factor,
        passed: _Passed,
        now: datetime,
    ) -> None:
        """A recovery code works once: replace it at once (version + 1 on ``factors``, applied
        here too), announce its use and tell the employee."""
        practice, employee = step.practice, step.employee
        new_code = otp.recovery_code()
        credential = FactorCredential(
            factor=used.id,
            employee=employee.id,
            kind="recovery",
            sealed=self.keyring.seal(
                json.dumps({"hash": otp.code_hash(new_code)}).encode(),
                factor_aad(practice.id, employee.id, used.id),
            ),
            active=True,
            created_at=now,
            version=used.version + 1,
            updated_at=now,
            zone=self.settings.zone,
        )
        await replicas.upsert_factor(conn, practice.id, credential)
        passed.recovery_code = new_code
        passed.events += [
            self._event(
                FACTORS,
                "factor.credential",
                practice.id,
                used.id,
                credential.model_dump(mode="json"),
                now,
            ),
            self._event(
                AUTH_EVENTS,
                "recovery.used",
                practice.id,
                employee.id,
                {"employee": employee.id, "factor": used.id},
                now,
            ),
        ]
        if step.email:
            passed.events.append(
                (
                    NOTIFY_REQUESTS,
                    notify_request(
                        self.settings,
                        self.keyring,
                        practice.id,
                        employee.id,
                        "email",
                        "factor_changed",
                        step.email,
                        {
                            "practice_name": practice.name,
                            "employee_name": employee.name,
                            "change": CHANGE_RECOVERY_USED,
                            "changed_at": factors.format_time(now),
                        },
                        now=now,
                    ),
                )
            )

    def _two_factor_token(
        self, step: repo.SecondStep, passed: _Passed, now: datetime
    ) -> tuple[TokenResponse, list[OutboxRow]]:
        """Both factors passed: the two-factor token, and the outbox rows that go with the
        login's completion (the factor's own events, ``login.succeeded``, ``token.issued``)."""
        practice, employee = step.practice, step.employee
        session = tokens.Session.new(
            practice.id,
            employee.id,
            employee.rights_group,
            ("pwd", passed.amr),
            tokens.TWO_FACTOR_ACR,
            tokens.session_start(now, step.cutoff),
        )
        grant = tokens.grant(session, self.lifetimes, self.settings.issuer, self.settings.zone, now)
        signed = self.signer.sign(grant.claims, now)
        events = [
            *passed.events,
            self._event(
                AUTH_EVENTS,
                "login.succeeded",
                practice.id,
                employee.id,
                {"username": employee.username.lower(), "employee": employee.id},
                now,
            ),
            (AUTH_EVENTS, self._token_event("token.issued", session, grant, now)),
        ]
        token = TokenResponse(
            token=signed,
            expires_at=grant.expires_at,
            renew_after=grant.renew_after,
            session_expires_at=grant.session_expires_at,
            recovery_code=passed.recovery_code,
        )
        return token, [outbox_row(self.settings, t, e) for t, e in events]

    def _event(
        self,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
    ) -> tuple[Topic, Envelope]:
        return topic, Envelope(
            type=type_,
            source=self.settings.source,
            time=now,
            practice=practice,
            subject=subject,
            data=data,
        )

    # -- passwords -------------------------------------------------------------------------

    async def change_password_in_login(self, login_id: str, new_password: str) -> LoginResponse:
        now = utcnow()
        async with self.pool.acquire() as conn:
            row = await repo.take_login(conn, login_id, "change_password", now)
            if row is None:
                raise _login_gone()
            practice, employee, credential = await self._load(
                conn, row["practice"], row["employee"]
            )
        await self.store_password(practice, employee, credential, new_password, False, True, now)
        async with self.pool.acquire() as conn:
            fresh = await self._load(conn, practice.id, employee.id)
            kinds = await repo.factor_kinds(conn, practice.id, employee.id)
        return await self._continue(
            practice, employee, fresh[2], kinds, login_id, now, existing=True
        )

    async def change_own_password(
        self, claims: dict[str, Any], current_password: str, new_password: str
    ) -> PasswordChanged:
        now = utcnow()
        async with self.pool.acquire() as conn:
            practice, employee, credential = await self._load(
                conn, claims["practice"], claims["sub"]
            )
            failures, reset_at = await repo.failures(conn, practice.id, employee.username.lower())
        state = lockout.lock_state(failures, reset_at, practice.policy, now)
        if state.locked(now):
            raise _locked(state, now)
        if not await self.hasher.verify(credential.hash, current_password):
            await self._record_failure(practice.id, employee.username.lower(), practice.policy, now)
            raise _invalid_credentials()
        return await self.store_password(
            practice, employee, credential, new_password, False, True, now
        )

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
            practice, employee, credential, password, temporary, not temporary, now
        )

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
    ) -> PasswordChanged:
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
        if (
            enforce_policy
            and policy.history
            and await self.hasher.matches_any(previous[: policy.history], password)
        ):
            raise Problem(
                422,
                "password-reused",
                "Password used before",
                f"The password may not be one of the last {policy.history}.",
            )
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
                {"temporary": temporary, "strength": score},
                now,
            )
        self.metrics.password_changes.labels(**self.metrics.base()).inc()
        return PasswordChanged(changed_at=now, strength=score, must_change=temporary)

    # -- tokens ----------------------------------------------------------------------------

    async def _issue(
        self, conn: asyncpg.Connection, session: tokens.Session, now: datetime, kind: str
    ) -> TokenResponse:
        started = time.perf_counter()
        grant = tokens.grant(session, self.lifetimes, self.settings.issuer, self.settings.zone, now)
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

    def _token_event(
        self, kind: str, session: tokens.Session, grant: tokens.Grant, now: datetime
    ) -> Envelope:
        return Envelope(
            type=kind,
            source=self.settings.source,
            time=now,
            practice=session.practice,
            subject=session.employee,
            data={
                "sid": session.sid,
                "jti": grant.claims["jti"],
                "exp": grant.claims["exp"],
                "amr": list(session.amr),
                "acr": session.acr,
            },
        )

    async def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid session token (any zone's key); 401 problem otherwise."""
        claims = await self.gate.claims(token)
        if claims.get("scope") != tokens.SESSION_SCOPE:
            raise unauthorized("Token not accepted: not a session token.")
        return claims

    async def renew(self, token: str) -> TokenResponse:
        """A new token valid X from now (capped at the session's end), in one round trip."""
        started = time.perf_counter()
        claims = await self.verify(token)
        session = tokens.Session.from_claims(claims)
        now = utcnow()
        try:
            grant = tokens.grant(
                session, self.lifetimes, self.settings.issuer, self.settings.zone, now
            )
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
        claims = await self.verify(token)
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
        """RFC 7662: ``{"active": false}`` for anything not a live session token."""
        try:
            claims = await self.verify(token)
        except Problem:
            return {"active": False}
        auth_time = datetime.fromtimestamp(int(claims.get("auth_time", 0)), tz=UTC)
        async with self.pool.acquire() as conn:
            state = await repo.session_state(
                conn, claims["practice"], claims["sub"], claims["sid"], auth_time
            )
        if (
            state is None
            or state["revoked"]
            or not state["in_service"]
            or (state["two_factor_required"] and claims["acr"] == tokens.SINGLE_FACTOR_ACR)
        ):
            return {"active": False}
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": claims["scope"],
            "username": state["username"],
            **{
                k: claims[k]
                for k in (
                    "sub",
                    "iss",
                    "exp",
                    "iat",
                    "jti",
                    "practice",
                    "rg",
                    "sid",
                    "amr",
                    "acr",
                    "auth_time",
                    "zone",
                )
                if k in claims
            },
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
        match, spent login codes and cutoffs older than any session."""
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


def _locked(state: lockout.LockState, now: datetime) -> Problem:
    until = state.locked_until or now
    return Problem(
        429,
        "account-locked",
        "Too many failed attempts",
        "Logging in is blocked for a while after too many failed attempts.",
        retry_after=max(1, int((until - now).total_seconds()) + 1),
    )


def _login_gone() -> Problem:
    return Problem(
        404, "login-not-found", "Login not found", "This login expired or is already complete."
    )


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
            employee_body.model_dump(mode="json"),
            now,
        )
    await auth.store_password(practice, employee, None, password, False, False, now)
    return employee_id
