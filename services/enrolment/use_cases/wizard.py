"""The enrolment wizard, three steps, each its own use case: an activation code by e-mail
(:class:`StartEnrolment`) → activation code, birth date and BSN (:class:`CheckIdentity`, which
then shows the new authenticator's secret) → the app's first code (:class:`ConfirmAuthenticator`).
The authenticator itself is the ``totp`` factor module's (:mod:`services.enrolment.factors.totp`);
:class:`Wizard` groups the three for the entry points."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.adapters.notices import Notices
from services.enrolment.api import (
    EnrolmentStarted,
    FactorEnrolled,
    IdentityAccepted,
    IdentityRequest,
)
from services.enrolment.domain import bsn as bsns
from services.enrolment.domain import enrolment as steps
from services.enrolment.domain import readiness as ready
from services.enrolment.domain.masking import mask_email
from services.enrolment.domain.records import Employee, Practice
from services.enrolment.factors import totp
from services.enrolment.factors.changes import FactorChanges
from services.enrolment.factors.owner import has_totp
from services.enrolment.factors.recovery import RecoveryCodes
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.problems import HOUR
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.use_cases.access import Access, Claims
from shared import otp
from shared.events import utcnow
from shared.outbox import EventWriter
from shared.problems import Problem
from shared.sealing import Keyring
from shared.topics import ENROLMENT_EVENTS


def enrolment_aad(practice: str, employee: str, enrolment_id: str) -> str:
    return f"enrolment:{practice}:{employee}:{enrolment_id}"


@dataclass
class StartEnrolment:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    access: Access
    events: EventWriter
    notices: Notices
    metrics: EnrolmentMetrics

    async def __call__(self, token: str) -> EnrolmentStarted:
        """Start (or restart) enrolling an authenticator app: an activation code goes to the
        employee's own e-mail address. A new start replaces earlier open ones."""
        claims, access = await self.access.wizard(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        login_id = str(claims.get("lid") or claims["sid"])
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            practice = await repo.practice(conn, practice_id)
            if employee is None or practice is None:
                raise problems.session_revoked()
            factors = await repo.active_factors(conn, practice_id, employee_id)
            refusal = steps.start_refusal(
                ready.missing_identity(employee.person()),
                await repo.is_blocked(conn, practice_id, employee_id),
                has_totp(factors),
                access,
            )
            if refusal is not None:
                self.metrics.step("start", refusal)
                raise problems.refusal(refusal)
            started = await self.send_code(conn, practice, employee, login_id, access, now)
        self.metrics.step("start", "sent")
        return started

    async def send_code(
        self,
        conn: asyncpg.Connection,
        practice: Practice,
        employee: Employee,
        login_id: str,
        access: steps.Access,
        now: datetime,
    ) -> EnrolmentStarted:
        """A new activation code for the employee's login ``login_id`` to their own e-mail
        address, replacing any open enrolment (in the caller's transaction, which holds the
        employee's factor lock): at most ``activation_sends_per_hour`` an hour."""
        practice_id, employee_id = practice.id, employee.id
        sent = await repo.enrolments_since(conn, practice_id, employee_id, now - HOUR)
        if len(sent) >= self.settings.activation_sends_per_hour:
            self.metrics.step("start", "too-many-codes")
            raise problems.too_many(sent, now)
        assert employee.email is not None
        await repo.void_open_enrolments(conn, practice_id, employee_id, now)
        enrolment_id = uuid.uuid4().hex
        code, expires_at = self.new_code(now)
        await repo.create_enrolment(
            conn,
            enrolment_id,
            practice_id,
            employee_id,
            login_id,
            otp.code_hash(code),
            now,
            expires_at,
        )
        await self.events.emit(
            conn,
            ENROLMENT_EVENTS,
            "enrolment.started",
            practice_id,
            employee_id,
            {
                "enrolment_id": enrolment_id,
                "login_id": login_id,
                "access": access,
                "expires_at": expires_at.isoformat(),
            },
            now,
        )
        await self.mail_code(conn, practice, employee, code)
        return EnrolmentStarted(
            enrolment_id=enrolment_id, sent_to=mask_email(employee.email), expires_at=expires_at
        )

    def new_code(self, now: datetime) -> tuple[str, datetime]:
        """A fresh activation code and when it expires."""
        code = otp.typable_code(self.settings.activation_code_length)
        return code, now + timedelta(seconds=self.settings.activation_code_seconds)

    async def mail_code(
        self, conn: asyncpg.Connection, practice: Practice, employee: Employee, code: str
    ) -> None:
        """The activation code to the employee's own e-mail address (sealed on the bus)."""
        assert employee.email is not None
        await self.notices.send(
            conn,
            practice.id,
            employee.id,
            "email",
            "activation_code",
            employee.email,
            {
                "practice_name": practice.name,
                "employee_name": employee.name,
                "expires_minutes": steps.minutes(self.settings.activation_code_seconds),
            },
            {"code": code},
        )
        self.metrics.code("activation")


@dataclass
class IdentityFailures:
    """A wrong identity check counted, and the blocking one told to the practice."""

    settings: EnrolmentSettings
    events: EventWriter
    notices: Notices
    metrics: EnrolmentMetrics

    async def record(
        self,
        conn: asyncpg.Connection,
        enrolment_id: str,
        employee: Employee,
        now: datetime,
    ) -> Problem:
        """Record a wrong identity check; the one that reaches the maximum (counted over the
        employee's enrolments in both zones) blocks and tells the practice."""
        practice_id = employee.practice
        failures = await repo.identity_failures(conn, practice_id, employee.id) + 1
        blocked = steps.blocks(failures, self.settings.identity_max_failures)
        event = await self.events.emit(
            conn,
            ENROLMENT_EVENTS,
            "identity.failed",
            practice_id,
            employee.id,
            {"enrolment_id": enrolment_id, "failures": failures},
            now,
        )
        await repo.add_identity_failure(
            conn, event.id, practice_id, employee.id, now, self.settings.zone
        )
        if not blocked:
            self.metrics.step("identity", "mismatch")
            return Problem(
                422,
                "identity-mismatch",
                "Identity not confirmed",
                "The activation code, birth date or BSN is not correct.",
                attempts_left=self.settings.identity_max_failures - failures,
            )
        event = await self.events.emit(
            conn,
            ENROLMENT_EVENTS,
            "enrolment.blocked",
            practice_id,
            employee.id,
            {"enrolment_id": enrolment_id, "failures": failures, "blocked_at": now.isoformat()},
            now,
        )
        await repo.add_block(conn, event.id, practice_id, employee.id, now, self.settings.zone)
        await repo.block_enrolment(conn, enrolment_id, now)
        practice = await repo.practice(conn, practice_id)
        if practice is not None and practice.email:
            await self.notices.send(
                conn,
                practice_id,
                employee.id,
                "email",
                "enrolment_blocked",
                practice.email,
                {
                    "practice_name": practice.name,
                    "employee_name": employee.name,
                    "username": employee.username,
                    "blocked_at": self.notices.mail_time(now),
                },
            )
        self.metrics.step("identity", "blocked")
        return problems.refusal("enrolment-blocked")


@dataclass
class CheckIdentity:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    keyring: Keyring
    bsn_key: bytes
    access: Access
    failures: IdentityFailures
    events: EventWriter
    metrics: EnrolmentMetrics

    async def __call__(
        self, token: str, enrolment_id: str, body: IdentityRequest
    ) -> IdentityAccepted:
        """Check activation code, birth date and BSN together (a mismatch does not say
        which); the last allowed failure blocks the enrolment and tells the practice."""
        claims, _ = await self.access.wizard(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        try:
            bsns.normalise(body.bsn)
        except bsns.InvalidBsn as exc:
            raise Problem(
                422, "invalid-bsn", "Invalid BSN", f"The BSN is not valid: {exc}."
            ) from None
        now = utcnow()
        problem: Problem | None = None
        secret = ""
        async with self.pool.acquire() as conn, conn.transaction():
            enrolment = await repo.take_enrolment(conn, enrolment_id, practice_id, employee_id)
            if enrolment is None:
                raise problems.refusal("not-found")
            blocked = await repo.is_blocked(conn, practice_id, employee_id)
            refusal = steps.identity_refusal(enrolment.state, blocked, enrolment.expires_at, now)
            if refusal is not None:
                self.metrics.step("identity", refusal)
                raise problems.refusal(refusal)
            employee = await repo.employee(conn, practice_id, employee_id)
            if employee is None:
                raise problems.session_revoked()
            # Evaluate all three, so the time taken does not tell which one was wrong.
            checks = (
                otp.same_code(body.activation_code, enrolment.code_hash),
                employee.birth_date is not None and employee.birth_date == body.birth_date,
                bsns.same_bsn(self.bsn_key, body.bsn, employee.bsn_hash),
            )
            if not all(checks):
                problem = await self.failures.record(conn, enrolment.id, employee, now)
            elif enrolment.sealed_secret is not None:
                secret = self.keyring.open(
                    enrolment.sealed_secret, enrolment_aad(practice_id, employee_id, enrolment.id)
                ).decode()
            else:
                secret = totp.new_secret()
                sealed = self.keyring.seal(
                    secret.encode(), enrolment_aad(practice_id, employee_id, enrolment.id)
                )
                expires_at = now + timedelta(seconds=self.settings.activation_code_seconds)
                await repo.identified(conn, enrolment.id, sealed, now, expires_at)
                # A passed check resets the employee's failed ones (in both zones).
                await repo.reset_identity(conn, practice_id, employee_id, now)
                await self.events.emit(
                    conn,
                    ENROLMENT_EVENTS,
                    "identity.verified",
                    practice_id,
                    employee_id,
                    {"enrolment_id": enrolment.id},
                    now,
                )
        if problem is not None:
            raise problem
        self.metrics.step("identity", "accepted")
        return totp.shown(secret, practice_id, employee.username)


@dataclass
class ShowAuthenticator:
    pool: asyncpg.Pool
    keyring: Keyring
    access: Access

    async def __call__(self, token: str, enrolment_id: str) -> IdentityAccepted:
        """The QR of the caller's enrolment again while it waits for the app's first code
        (after a wrong one): to the login whose wizard it is only, never once confirmed,
        expired or blocked (DESIGN §10: never after the QR step has been left)."""
        claims, _ = await self.access.wizard(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        async with self.pool.acquire() as conn, conn.transaction():
            enrolment = await repo.take_enrolment(conn, enrolment_id, practice_id, employee_id)
            if enrolment is None:
                raise problems.refusal("not-found")
            blocked = await repo.is_blocked(conn, practice_id, employee_id)
            refusal = steps.confirm_refusal(
                enrolment.state, blocked, enrolment.expires_at, utcnow()
            )
            if refusal is not None:
                raise problems.refusal(refusal)
            employee = await repo.employee(conn, practice_id, employee_id)
        if employee is None:
            raise problems.session_revoked()
        assert enrolment.sealed_secret is not None
        secret = self.keyring.open(
            enrolment.sealed_secret, enrolment_aad(practice_id, employee_id, enrolment.id)
        ).decode()
        return totp.shown(secret, practice_id, employee.username)


@dataclass
class ConfirmAuthenticator:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    keyring: Keyring
    access: Access
    authenticators: totp.Authenticators
    recovery: RecoveryCodes
    changes: FactorChanges
    metrics: EnrolmentMetrics

    async def __call__(self, token: str, enrolment_id: str, code: str) -> FactorEnrolled:
        """The first code from the app proves it holds the secret: the totp factor becomes
        active (replacing an earlier one), with a new recovery code."""
        claims, _ = await self.access.wizard(token)
        factor_id, recovery = await self.confirm(claims, enrolment_id, code, new_recovery=True)
        assert recovery is not None
        return FactorEnrolled(factor_id=factor_id, recovery_code=recovery)

    async def confirm(
        self, claims: Claims, enrolment_id: str, code: str, new_recovery: bool
    ) -> tuple[str, str | None]:
        """The caller's enrolment ``enrolment_id`` confirmed with the app's ``code``: (the new
        factor's id, the new recovery code if ``new_recovery``, else None: the employee keeps
        theirs). Also for replacing the app from a fresh login
        (:mod:`services.enrolment.use_cases.app_replacement`)."""
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        problem: Problem | None = None
        factor_id: str = ""
        recovery: str | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            enrolment = await repo.take_enrolment(conn, enrolment_id, practice_id, employee_id)
            if enrolment is None:
                raise problems.refusal("not-found")
            blocked = await repo.is_blocked(conn, practice_id, employee_id)
            refusal = steps.confirm_refusal(enrolment.state, blocked, enrolment.expires_at, now)
            if refusal is not None:
                self.metrics.step("confirm", refusal)
                raise problems.refusal(refusal)
            assert enrolment.sealed_secret is not None
            secret = self.keyring.open(
                enrolment.sealed_secret, enrolment_aad(practice_id, employee_id, enrolment.id)
            ).decode()
            if await repo.employee(conn, practice_id, employee_id) is None:
                raise problems.session_revoked()
            confirmed = await self.authenticators.confirm(
                conn, practice_id, employee_id, secret, code, now
            )
            if confirmed is None:
                failures = enrolment.confirm_failures + 1
                void = failures >= self.settings.confirm_max_failures
                await repo.confirm_failed(conn, enrolment.id, failures, now if void else None)
                self.metrics.step("confirm", "invalid-code")
                problem = Problem(
                    422,
                    "invalid-code",
                    "Code not correct",
                    "Start the enrolment again: too many wrong codes."
                    if void
                    else "Enter the code the app shows now (check the phone's clock).",
                    attempts_left=self.settings.confirm_max_failures - failures,
                )
            else:
                factor_id, replaced = confirmed
                if new_recovery:
                    recovery = await self.recovery.issue(conn, practice_id, employee_id, now)
                await repo.finish_enrolment(conn, enrolment.id, factor_id, now)
                await self.changes.enrolled(
                    conn, claims, factor_id, totp.KINDS[0], replaced, now, enrolment_id=enrolment.id
                )
        if problem is not None:
            raise problem
        self.metrics.step("confirm", "enrolled")
        self.metrics.factor(totp.KINDS[0], "enrolled")
        return factor_id, recovery


@dataclass(frozen=True)
class Wizard:
    """The wizard's three steps, for the entry points."""

    start: StartEnrolment
    identify: CheckIdentity
    confirm: ConfirmAuthenticator
    show: ShowAuthenticator
