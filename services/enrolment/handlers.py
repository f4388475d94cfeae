"""Use cases of the enrolment service: practice settings, the employee directory, readiness,
the enrolment wizard (activation code → identity → TOTP secret → confirm), SMS/e-mail factors,
recovery codes and the administrator's deactivation. HTTP and Kafka entry points call these;
they call the domain rules and the repository, and decide the transactions: every state
change commits together with its events (outbox) and notification requests."""

from __future__ import annotations

import hmac
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from asyncpg.exceptions import UniqueViolationError

from services.enrolment.adapters import repository as repo
from services.enrolment.adapters.qr import qr_svg
from services.enrolment.api import (
    EmployeeUpdate,
    EmployeeView,
    EnrolmentStarted,
    FactorEnrolled,
    FactorView,
    IdentityAccepted,
    IdentityRequest,
    PendingFactorView,
    PracticeUpdate,
    PracticeView,
    Readiness,
    RecoveryCode,
)
from services.enrolment.domain import bsn as bsns
from services.enrolment.domain import enrolment as steps
from services.enrolment.domain import readiness as ready
from services.enrolment.domain.masking import mask, mask_email
from services.enrolment.domain.practice import (
    incomplete_employees,
    switching_on,
    two_factor_unmet,
)
from services.enrolment.domain.records import Employee, Factor, PendingFactor, Practice, WeakKind
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.settings import EnrolmentSettings
from shared import otp, replicas
from shared.events import (
    FACTOR_ORDER,
    EmployeeUpserted,
    Envelope,
    FactorCredential,
    PracticeUpserted,
    SessionsRevoked,
    factor_aad,
    recovery_factor_id,
    utcnow,
)
from shared.gate import TokenGate
from shared.notify import notify_request, request_notification
from shared.outbox import publish
from shared.problems import Problem, forbidden, not_found, unauthorized
from shared.sealing import Keyring
from shared.tokens import (
    FALLBACK_ACR,
    SESSION_SCOPE,
    SINGLE_FACTOR_ACR,
    TWO_FACTOR_ACR,
    require_admin,
)
from shared.topics import (
    DIRECTORY_EMPLOYEES,
    DIRECTORY_PRACTICES,
    ENROLMENT_EVENTS,
    FACTORS,
    STS_REVOCATIONS,
    Topic,
)

Claims = dict[str, Any]
HOUR = timedelta(hours=1)
TWO_FACTOR_ACRS = frozenset({TWO_FACTOR_ACR, FALLBACK_ACR})


# Problems are built fresh for each answer: one exception instance raised again and again
# would keep collecting tracebacks.
def _session_revoked() -> Problem:
    return Problem(401, "session-revoked", "Session ended", "Log in again.")


def _enrolment_aad(practice: str, employee: str, enrolment_id: str) -> str:
    return f"enrolment:{practice}:{employee}:{enrolment_id}"


def _pending_aad(practice: str, employee: str, factor_id: str) -> str:
    return f"pending-factor:{practice}:{employee}:{factor_id}"


def _problem(slug: str) -> Problem:
    """The wizard's refusals (domain decisions) as problems."""
    return {
        "not-found": not_found("No such enrolment, or it is finished or replaced."),
        "employee-incomplete": Problem(
            409,
            "employee-incomplete",
            "Employee data incomplete",
            "Your birth date, e-mail address or BSN is missing; ask the practice "
            "administrator to complete them.",
        ),
        "factor-exists": Problem(
            409,
            "factor-exists",
            "Authenticator already enrolled",
            "You already have an authenticator app; log in with it, or ask the practice "
            "administrator to deactivate it.",
        ),
        "enrolment-blocked": Problem(
            423,
            "enrolment-blocked",
            "Enrolment blocked",
            "Too many failed identity checks; the practice administrator has been told and "
            "can unblock it.",
        ),
        "activation-code-expired": Problem(
            410,
            "activation-code-expired",
            "Activation code expired",
            "Start again to get a new activation code.",
        ),
        "enrolment-expired": Problem(
            410, "enrolment-expired", "Enrolment expired", "Start again to enrol."
        ),
        "identity-required": Problem(
            409,
            "identity-required",
            "Identity not checked yet",
            "Enter the activation code, birth date and BSN first.",
        ),
    }[slug]


def _too_many(sent: list[datetime], now: datetime) -> Problem:
    retry = max(1, int((sent[0] + HOUR - now).total_seconds()) + 1)
    return Problem(
        429,
        "too-many-codes",
        "Too many codes sent",
        "Too many codes were sent in the last hour; try again later.",
        retry_after=retry,
    )


@dataclass
class EnrolmentService:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    keyring: Keyring
    bsn_key: bytes
    gate: TokenGate
    metrics: EnrolmentMetrics

    # -- helpers ---------------------------------------------------------------------------

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

    async def notify(
        self,
        conn: asyncpg.Connection,
        practice: str,
        subject: str,
        channel: str,
        template: str,
        recipient: str,
        parameters: dict[str, str | int],
        secrets: dict[str, str] | None = None,
    ) -> None:
        assert channel in ("email", "sms")
        envelope = notify_request(
            self.settings,
            self.keyring,
            practice,
            subject,
            "email" if channel == "email" else "sms",
            template,
            recipient,
            parameters,
            secrets,
        )
        await request_notification(conn, self.settings, envelope)

    def mail_time(self, at: datetime) -> str:
        """A time as e-mails show it: ``23-11-2026 09:12`` in the configured time zone."""
        try:
            zone: Any = ZoneInfo(self.settings.mail_time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
        return at.astimezone(zone).strftime("%d-%m-%Y %H:%M")

    async def _factor_changed(
        self,
        conn: asyncpg.Connection,
        practice: Practice | None,
        employee: Employee,
        change: str,
        now: datetime,
    ) -> None:
        """Every factor change is e-mailed to the employee (someone else may have made it)."""
        if not employee.email:
            return
        await self.notify(
            conn,
            employee.practice,
            employee.id,
            "email",
            "factor_changed",
            employee.email,
            {
                "employee_name": employee.name,
                "practice_name": practice.name if practice else employee.practice,
                "change": change,
                "changed_at": self.mail_time(now),
            },
        )

    async def _write_factor(
        self, conn: asyncpg.Connection, practice: str, credential: FactorCredential, now: datetime
    ) -> None:
        await replicas.upsert_factor(conn, practice, credential)
        await self.emit(
            conn,
            FACTORS,
            "factor.credential",
            practice,
            credential.factor,
            credential.model_dump(mode="json"),
            now,
        )

    def _seal_factor(self, practice: str, employee: str, factor_id: str, body: Any) -> str:
        return self.keyring.seal(
            json.dumps(body).encode(), factor_aad(practice, employee, factor_id)
        )

    async def _deactivate(self, conn: asyncpg.Connection, factor: Factor, now: datetime) -> None:
        """A deactivated factor stays on the compacted topic as ``active: false``, without its
        secret (sealed ``{}``)."""
        credential = FactorCredential(
            factor=factor.id,
            employee=factor.employee,
            kind=factor.kind,
            sealed=self._seal_factor(factor.practice, factor.employee, factor.id, {}),
            active=False,
            created_at=factor.created_at,
            confirmed_step=factor.confirmed_step,
            version=factor.version + 1,
            updated_at=now,
            zone=self.settings.zone,
        )
        await self._write_factor(conn, factor.practice, credential, now)
        self.metrics.factor(factor.kind, "deactivated")

    async def _new_recovery_code(
        self, conn: asyncpg.Connection, practice: str, employee: str, now: datetime
    ) -> str:
        """A new recovery code replacing the employee's earlier one (one id per employee)."""
        code = otp.recovery_code()
        factor_id = recovery_factor_id(employee)
        version = await repo.factor_version(conn, practice, factor_id)
        credential = FactorCredential(
            factor=factor_id,
            employee=employee,
            kind="recovery",
            sealed=self._seal_factor(practice, employee, factor_id, {"hash": otp.code_hash(code)}),
            active=True,
            created_at=now,
            version=version + 1,
            updated_at=now,
            zone=self.settings.zone,
        )
        await self._write_factor(conn, practice, credential, now)
        return code

    # -- tokens ----------------------------------------------------------------------------

    async def claims(self, token: str) -> Claims:
        """Claims of a token signed by either zone's auth; 401 problem otherwise."""
        claims = await self.gate.claims(token)
        if not isinstance(claims.get("practice"), str) or not isinstance(claims.get("sub"), str):
            raise unauthorized("Token not accepted: no practice or subject.")
        return claims

    async def _live(self, claims: Claims) -> asyncpg.Record:
        """The employee's current state, if the token's session is still live: not revoked,
        not started at or before the employee's cutoff, employee known and in service, and
        not a password-only session of a practice that requires two factors."""
        async with self.pool.acquire() as conn:
            state = await repo.session_state(
                conn, claims["practice"], claims["sub"], str(claims["sid"])
            )
        if state is None or not state["in_service"] or state["revoked"]:
            raise _session_revoked()
        # A cutoff ends sessions. An enrolment token is left alone: enrolling again is what
        # follows a deactivation, and the wizard still needs the e-mailed code, birth date and BSN.
        if claims.get("scope") == SESSION_SCOPE:
            started = claims.get("auth_time")
            if not isinstance(started, int | float):
                raise unauthorized("Token not accepted: no session start.")
            cutoff = state["cutoff"]
            if cutoff is not None and datetime.fromtimestamp(started, tz=UTC) <= cutoff:
                raise _session_revoked()
        if claims.get("scope") == SESSION_SCOPE and (
            state["two_factor_required"] and claims.get("acr") == SINGLE_FACTOR_ACR
        ):
            raise _session_revoked()
        return state

    async def session(self, token: str, two_factor: bool = False) -> Claims:
        """Claims of a live session token; with ``two_factor``, only a two-factor session
        (``aal2``, ``aal2-fallback``)."""
        claims = await self.claims(token)
        if claims.get("scope") != SESSION_SCOPE:
            raise unauthorized("Token not accepted: not a session token.")
        state = await self._live(claims)
        if two_factor and claims.get("acr") not in TWO_FACTOR_ACRS:
            raise forbidden("This needs a session that logged in with two factors.")
        return {**claims, "rg": state["rights_group"]}

    async def admin(self, token: str, practice_id: str) -> Claims:
        """A live session of the practice's administrator (rights group 1, checked against the
        directory now rather than the token's claim)."""
        claims = await self.session(token)
        require_admin(claims, practice_id)
        return claims

    async def wizard(self, token: str) -> tuple[Claims, steps.Access]:
        """Claims of a token that may use the wizard: an enrolment token, or a session that
        logged in with a recovery code a short while ago."""
        claims = await self.claims(token)
        window = timedelta(seconds=self.settings.recovery_reenrol_seconds)
        access = steps.wizard_access(claims, utcnow(), window)
        if access is None:
            raise forbidden(
                "The wizard needs an enrolment token, or a session that just logged in with "
                "a recovery code."
            )
        await self._live(claims)
        return claims, access

    # -- practices -------------------------------------------------------------------------

    @staticmethod
    def practice_view(practice: Practice) -> PracticeView:
        return PracticeView(
            id=practice.id,
            name=practice.name,
            email=practice.email,
            two_factor_required=practice.two_factor_required,
            password_policy=practice.policy,
            version=practice.version,
            updated_at=practice.updated_at,
        )

    async def get_practice(self, claims: Claims, practice_id: str) -> PracticeView:
        async with self.pool.acquire() as conn:
            practice = await repo.practice(conn, practice_id)
        if practice is None:
            raise not_found("No such practice.")
        return self.practice_view(practice)

    async def update_practice(
        self, claims: Claims, practice_id: str, body: PracticeUpdate
    ) -> PracticeView:
        """Change practice settings. Requiring two factors needs min_strength ≥ 60 and the
        practice's e-mail address; switching it on while employees in service lack birth
        date, e-mail or BSN needs ``confirm_incomplete``. A refusal changes nothing."""
        now = utcnow()
        given = body.model_fields_set
        changes: dict[str, Any] = {}
        if "name" in given and body.name is not None:
            changes["name"] = body.name
        if "email" in given:
            changes["email"] = body.email
        if "two_factor_required" in given and body.two_factor_required is not None:
            changes["two_factor_required"] = body.two_factor_required
        policy_changes = (
            body.password_policy.model_dump(exclude_unset=True, exclude_none=True)
            if body.password_policy
            else {}
        )
        async with self.pool.acquire() as conn, conn.transaction():
            current = await repo.practice(conn, practice_id, for_update=True)
            if current is None:
                raise not_found("No such practice.")
            before = current.settings
            after = before.merged(changes, policy_changes)
            if after.two_factor_required and (unmet := two_factor_unmet(after)):
                raise Problem(
                    422,
                    "two-factor-not-allowed",
                    "Two-factor login cannot be required yet",
                    _unmet_detail(unmet),
                    unmet=unmet,
                )
            if switching_on(before, after) and not body.confirm_incomplete:
                incomplete = incomplete_employees(await repo.people(conn, practice_id))
                if incomplete:
                    raise Problem(
                        409,
                        "employees-incomplete",
                        "Employees lack data",
                        f"{len(incomplete)} employee(s) in service lack birth date, e-mail "
                        "address or BSN and cannot log in until that is complete; send "
                        "confirm_incomplete: true to switch anyway.",
                        employees=[asdict(i) for i in incomplete],
                    )
            if after == before:
                return self.practice_view(current)
            event = PracticeUpserted(
                name=after.name,
                email=after.email,
                two_factor_required=after.two_factor_required,
                password_policy=after.policy,
                version=current.version + 1,
                updated_at=now,
                zone=self.settings.zone,
            )
            await repo.upsert_practice(conn, practice_id, event)
            await self.emit(
                conn,
                DIRECTORY_PRACTICES,
                "practice.upserted",
                practice_id,
                practice_id,
                event.model_dump(mode="json"),
                now,
            )
        self.metrics.written("practice")
        return PracticeView(
            id=practice_id,
            name=event.name,
            email=event.email,
            two_factor_required=event.two_factor_required,
            password_policy=event.password_policy,
            version=event.version,
            updated_at=now,
        )

    async def readiness(self, claims: Claims, practice_id: str) -> Readiness:
        async with self.pool.acquire() as conn:
            practice = await repo.practice(conn, practice_id)
            if practice is None:
                raise not_found("No such practice.")
            people = await repo.people(conn, practice_id)
        summary = ready.summarise(people)
        return Readiness.model_validate(
            {
                "practice": practice_id,
                "two_factor_required": practice.two_factor_required,
                "summary": asdict(summary),
                "employees": [
                    {
                        "employee": p.employee,
                        "username": p.username,
                        "name": p.name,
                        "in_service": p.in_service,
                        "missing": (lacks := ready.missing(p)),
                        "ready": not lacks,
                    }
                    for p in people
                ],
            }
        )

    # -- employees -------------------------------------------------------------------------

    @staticmethod
    def employee_view(employee: Employee) -> EmployeeView:
        return EmployeeView(
            employee=employee.id,
            username=employee.username,
            name=employee.name,
            birth_date=employee.birth_date,
            email=employee.email,
            phone=employee.phone,
            has_bsn=employee.bsn_hash is not None,
            rights_group=employee.rights_group,
            in_service=employee.in_service,
            version=employee.version,
            updated_at=employee.updated_at,
        )

    async def list_employees(self, claims: Claims, practice_id: str) -> list[EmployeeView]:
        async with self.pool.acquire() as conn:
            return [self.employee_view(e) for e in await repo.employees(conn, practice_id)]

    async def put_employee(
        self, claims: Claims, practice_id: str, employee_id: str, body: EmployeeUpdate
    ) -> EmployeeView:
        """Create or update an employee (fields left out keep their value)."""
        now = utcnow()
        given = body.model_fields_set
        bsn_hash = None
        if body.bsn is not None:
            try:
                bsn_hash = bsns.bsn_hash(self.bsn_key, body.bsn)
            except bsns.InvalidBsn as exc:
                raise Problem(
                    422, "invalid-bsn", "Invalid BSN", f"The BSN is not valid: {exc}."
                ) from None
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.practice(conn, practice_id) is None:
                raise not_found("No such practice.")
            current = await repo.employee(conn, practice_id, employee_id, for_update=True)
            if current is None and (body.username is None or body.name is None):
                raise Problem(
                    422,
                    "invalid-request",
                    "The request is not valid",
                    errors=[
                        {"field": f, "message": "required for a new employee"}
                        for f in ("username", "name")
                        if getattr(body, f) is None
                    ],
                )

            def value(field: str, default: Any) -> Any:
                if field in given and (
                    getattr(body, field) is not None or field in ("birth_date", "email", "phone")
                ):
                    return getattr(body, field)
                return getattr(current, field) if current else default

            event = EmployeeUpserted(
                employee=employee_id,
                username=value("username", None),
                name=value("name", None),
                birth_date=value("birth_date", None),
                email=value("email", None),
                phone=value("phone", None),
                bsn_hash=bsn_hash or (current.bsn_hash if current else None),
                rights_group=value("rights_group", 2),
                in_service=value("in_service", True),
                version=(current.version if current else 0) + 1,
                updated_at=now,
                zone=self.settings.zone,
            )
            if current is not None and _same_employee(current, event):
                return self.employee_view(current)
            if await repo.username_taken(conn, practice_id, event.username, employee_id):
                raise _username_taken()
            try:
                async with conn.transaction():
                    await repo.upsert_employee(conn, practice_id, event)
            except UniqueViolationError:
                raise _username_taken() from None
            await self.emit(
                conn,
                DIRECTORY_EMPLOYEES,
                "employee.upserted",
                practice_id,
                employee_id,
                event.model_dump(mode="json"),
                now,
            )
            stored = await repo.employee(conn, practice_id, employee_id)
        self.metrics.written("employee")
        assert stored is not None
        return self.employee_view(stored)

    async def deactivate(self, claims: Claims, practice_id: str, employee_id: str) -> None:
        """The administrator deactivates every second factor of an employee (new or lost
        phone): factors inactive, a blocked enrolment cleared, every session that started
        until now revoked, the employee told by e-mail. Repeating it changes nothing."""
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            if employee is None:
                raise not_found("No such employee in this practice.")
            factors = await repo.active_factors(conn, practice_id, employee_id)
            blocked = await repo.is_blocked(conn, practice_id, employee_id)
            await repo.void_unfinished_enrolments(conn, practice_id, employee_id, now)
            await repo.void_pending(conn, practice_id, employee_id)
            if not factors and not blocked:
                return
            # Unblocks (in both zones, by the event below) and forgets failed identity checks.
            await repo.reset_identity(conn, practice_id, employee_id, now)
            for factor in factors:
                await self._deactivate(conn, factor, now)
            revoked = SessionsRevoked(employee=employee_id, before=now, reason="deactivated")
            await replicas.raise_cutoff(conn, practice_id, employee_id, now)
            await self.emit(
                conn,
                STS_REVOCATIONS,
                "sessions.revoked",
                practice_id,
                employee_id,
                revoked.model_dump(mode="json"),
                now,
            )
            await self.emit(
                conn,
                ENROLMENT_EVENTS,
                "factor.deactivated",
                practice_id,
                employee_id,
                {
                    "employee": employee_id,
                    "factors": [f.id for f in factors],
                    "unblocked": blocked,
                    "by": claims["sub"],
                },
                now,
            )
            practice = await repo.practice(conn, practice_id)
            await self._factor_changed(conn, practice, employee, "deactivated", now)

    # -- the wizard ------------------------------------------------------------------------

    async def start(self, token: str) -> EnrolmentStarted:
        """Start (or restart) enrolling an authenticator app: an activation code goes to the
        employee's own e-mail address. A new start replaces earlier open ones."""
        claims, access = await self.wizard(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        login_id = str(claims.get("lid") or claims["sid"])
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            practice = await repo.practice(conn, practice_id)
            if employee is None or practice is None:
                raise _session_revoked()
            factors = await repo.active_factors(conn, practice_id, employee_id)
            refusal = steps.start_refusal(
                ready.missing_identity(employee.person()),
                await repo.is_blocked(conn, practice_id, employee_id),
                any(f.kind == "totp" for f in factors),
                access,
            )
            if refusal is not None:
                self.metrics.step("start", refusal)
                raise _problem(refusal)
            sent = await repo.enrolments_since(conn, practice_id, employee_id, now - HOUR)
            if len(sent) >= self.settings.activation_sends_per_hour:
                self.metrics.step("start", "too-many-codes")
                raise _too_many(sent, now)
            assert employee.email is not None
            await repo.void_open_enrolments(conn, practice_id, employee_id, now)
            enrolment_id = uuid.uuid4().hex
            code = otp.typable_code(self.settings.activation_code_length)
            expires_at = now + timedelta(seconds=self.settings.activation_code_seconds)
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
            await self.emit(
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
            await self.notify(
                conn,
                practice_id,
                employee_id,
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
        self.metrics.step("start", "sent")
        self.metrics.code("activation")
        return EnrolmentStarted(
            enrolment_id=enrolment_id, sent_to=mask_email(employee.email), expires_at=expires_at
        )

    async def identify(
        self, token: str, enrolment_id: str, body: IdentityRequest
    ) -> IdentityAccepted:
        """Check activation code, birth date and BSN together (a mismatch does not say
        which); the last allowed failure blocks the enrolment and tells the practice."""
        claims, _ = await self.wizard(token)
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
                raise _problem("not-found")
            blocked = await repo.is_blocked(conn, practice_id, employee_id)
            refusal = steps.identity_refusal(enrolment.state, blocked, enrolment.expires_at, now)
            if refusal is not None:
                self.metrics.step("identity", refusal)
                raise _problem(refusal)
            employee = await repo.employee(conn, practice_id, employee_id)
            if employee is None:
                raise _session_revoked()
            # Evaluate all three, so the time taken does not tell which one was wrong.
            checks = (
                otp.same_code(body.activation_code, enrolment.code_hash),
                employee.birth_date is not None and employee.birth_date == body.birth_date,
                bsns.same_bsn(self.bsn_key, body.bsn, employee.bsn_hash),
            )
            if not all(checks):
                problem = await self._identity_failed(conn, enrolment.id, employee, now)
            elif enrolment.sealed_secret is not None:
                secret = self.keyring.open(
                    enrolment.sealed_secret, _enrolment_aad(practice_id, employee_id, enrolment.id)
                ).decode()
            else:
                secret = otp.new_secret()
                sealed = self.keyring.seal(
                    secret.encode(), _enrolment_aad(practice_id, employee_id, enrolment.id)
                )
                expires_at = now + timedelta(seconds=self.settings.activation_code_seconds)
                await repo.identified(conn, enrolment.id, sealed, now, expires_at)
                # A passed check resets the employee's failed ones (in both zones).
                await repo.reset_identity(conn, practice_id, employee_id, now)
                await self.emit(
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
        uri = otp.provisioning_uri(secret, practice_id, employee.username)
        return IdentityAccepted(otpauth_uri=uri, secret=secret, qr_svg=qr_svg(uri))

    async def _identity_failed(
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
        event = await self.emit(
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
        event = await self.emit(
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
            await self.notify(
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
                    "blocked_at": self.mail_time(now),
                },
            )
        self.metrics.step("identity", "blocked")
        return _problem("enrolment-blocked")

    async def confirm(self, token: str, enrolment_id: str, code: str) -> FactorEnrolled:
        """The first code from the app proves it holds the secret: the totp factor becomes
        active (replacing an earlier one), with a new recovery code."""
        claims, _ = await self.wizard(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        problem: Problem | None = None
        factor_id = recovery = ""
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            enrolment = await repo.take_enrolment(conn, enrolment_id, practice_id, employee_id)
            if enrolment is None:
                raise _problem("not-found")
            blocked = await repo.is_blocked(conn, practice_id, employee_id)
            refusal = steps.confirm_refusal(enrolment.state, blocked, enrolment.expires_at, now)
            if refusal is not None:
                self.metrics.step("confirm", refusal)
                raise _problem(refusal)
            assert enrolment.sealed_secret is not None
            secret = self.keyring.open(
                enrolment.sealed_secret, _enrolment_aad(practice_id, employee_id, enrolment.id)
            ).decode()
            step = otp.match_totp(secret, code, now)
            if step is None:
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
                employee = await repo.employee(conn, practice_id, employee_id)
                practice = await repo.practice(conn, practice_id)
                if employee is None:
                    raise _session_revoked()
                old = [
                    f
                    for f in await repo.active_factors(conn, practice_id, employee_id)
                    if f.kind == "totp"
                ]
                for factor in old:
                    await self._deactivate(conn, factor, now)
                factor_id = f"totp.{uuid.uuid4().hex[:16]}"
                await self._write_factor(
                    conn,
                    practice_id,
                    FactorCredential(
                        factor=factor_id,
                        employee=employee_id,
                        kind="totp",
                        sealed=self._seal_factor(
                            practice_id, employee_id, factor_id, {"secret": secret}
                        ),
                        active=True,
                        created_at=now,
                        confirmed_step=step,
                        version=1,
                        updated_at=now,
                        zone=self.settings.zone,
                    ),
                    now,
                )
                recovery = await self._new_recovery_code(conn, practice_id, employee_id, now)
                await repo.finish_enrolment(conn, enrolment.id, factor_id, now)
                await self.emit(
                    conn,
                    ENROLMENT_EVENTS,
                    "factor.enrolled",
                    practice_id,
                    employee_id,
                    {
                        "enrolment_id": enrolment.id,
                        "factor_id": factor_id,
                        "kind": "totp",
                        "replaced": [f.id for f in old],
                    },
                    now,
                )
                await self._factor_changed(conn, practice, employee, "enrolled", now)
        if problem is not None:
            raise problem
        self.metrics.step("confirm", "enrolled")
        self.metrics.factor("totp", "enrolled")
        return FactorEnrolled(factor_id=factor_id, recovery_code=recovery)

    # -- the employee's own factors --------------------------------------------------------

    async def list_factors(self, token: str) -> list[FactorView]:
        claims = await self.session(token, two_factor=True)
        async with self.pool.acquire() as conn:
            factors = await repo.active_factors(conn, claims["practice"], claims["sub"])
        order = {kind: i for i, kind in enumerate(FACTOR_ORDER)}
        factors.sort(key=lambda f: (order.get(f.kind, len(order)), f.created_at))
        return [
            FactorView(
                factor_id=f.id,
                kind=f.kind,
                created_at=f.created_at,
                sent_to=self._sent_to(f) if f.kind in ("sms", "email") else None,
            )
            for f in factors
        ]

    def _sent_to(self, factor: Factor) -> str | None:
        body = json.loads(
            self.keyring.open(
                factor.sealed, factor_aad(factor.practice, factor.employee, factor.id)
            )
        )
        to = body.get("to")
        return mask(to) if isinstance(to, str) else None

    async def request_factor(
        self, token: str, kind: WeakKind, address: str | None
    ) -> PendingFactorView:
        """Enrol an SMS or e-mail factor (weak: only for an employee with a strong factor):
        a confirmation code goes to the address, ``confirm_factor`` activates it."""
        claims = await self.session(token, two_factor=True)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            practice = await repo.practice(conn, practice_id)
            if employee is None:
                raise _session_revoked()
            factors = await repo.active_factors(conn, practice_id, employee_id)
            if not any(f.kind == "totp" for f in factors):
                raise _strong_factor_required()
            address = address or (employee.phone if kind == "sms" else employee.email)
            if not address:
                raise Problem(
                    422,
                    "address-missing",
                    "No address to send the code to",
                    f"Give the {'phone number' if kind == 'sms' else 'e-mail address'} to use.",
                )
            sent = await repo.pending_since(conn, practice_id, employee_id, now - HOUR)
            if len(sent) >= self.settings.confirmation_sends_per_hour:
                raise _too_many(sent, now)
            factor_id = f"{kind}.{uuid.uuid4().hex[:16]}"
            code = otp.numeric_code(self.settings.confirmation_code_digits)
            pending = PendingFactor(
                id=factor_id,
                practice=practice_id,
                employee=employee_id,
                kind=kind,
                sealed=self._seal_factor(practice_id, employee_id, factor_id, {"to": address}),
                sealed_code=self.keyring.seal(
                    code.encode(), _pending_aad(practice_id, employee_id, factor_id)
                ),
                sent_to=mask(address),
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.confirmation_code_seconds),
                attempts=0,
                state="pending",
            )
            await repo.add_pending(conn, pending)
            await self.notify(
                conn,
                practice_id,
                employee_id,
                kind,
                "login_code",
                address,
                {
                    "practice_name": practice.name if practice else practice_id,
                    "employee_name": employee.name,
                    "expires_minutes": steps.minutes(self.settings.confirmation_code_seconds),
                },
                {"code": code},
            )
        self.metrics.code(f"confirm-{kind}")
        return PendingFactorView(
            factor_id=factor_id, sent_to=pending.sent_to, expires_at=pending.expires_at, kind=kind
        )

    async def confirm_factor(self, token: str, factor_id: str, code: str) -> FactorView:
        """Activate a pending SMS/e-mail factor with its confirmation code (single use,
        limited attempts); it replaces an earlier factor of the same kind."""
        claims = await self.session(token, two_factor=True)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        problem: Problem | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            pending = await repo.take_pending(conn, factor_id, practice_id, employee_id)
            if pending is None or pending.state == "done":
                raise not_found("No such pending factor.")
            if pending.state == "void" or now >= pending.expires_at:
                raise _code_expired()
            expected = self.keyring.open(
                pending.sealed_code, _pending_aad(practice_id, employee_id, factor_id)
            ).decode()
            typed = "".join(c for c in code if c.isdigit())
            if not hmac.compare_digest(typed.encode(), expected.encode()):
                attempts = pending.attempts + 1
                void = attempts >= self.settings.confirmation_max_attempts
                await repo.update_pending(conn, factor_id, attempts, "void" if void else "pending")
                problem = Problem(
                    422,
                    "invalid-code",
                    "Code not correct",
                    "Request a new code: too many wrong codes." if void else "Try again.",
                    attempts_left=self.settings.confirmation_max_attempts - attempts,
                )
            else:
                factors = await repo.active_factors(conn, practice_id, employee_id)
                if not any(f.kind == "totp" for f in factors):
                    raise _strong_factor_required()
                for factor in factors:
                    if factor.kind == pending.kind:
                        await self._deactivate(conn, factor, now)
                credential = FactorCredential(
                    factor=factor_id,
                    employee=employee_id,
                    kind=pending.kind,
                    sealed=pending.sealed,
                    active=True,
                    created_at=now,
                    version=1,
                    updated_at=now,
                    zone=self.settings.zone,
                )
                await self._write_factor(conn, practice_id, credential, now)
                await repo.update_pending(conn, factor_id, pending.attempts, "done")
                await self.emit(
                    conn,
                    ENROLMENT_EVENTS,
                    "factor.enrolled",
                    practice_id,
                    employee_id,
                    {
                        "factor_id": factor_id,
                        "kind": pending.kind,
                        "replaced": [f.id for f in factors if f.kind == pending.kind],
                    },
                    now,
                )
                employee = await repo.employee(conn, practice_id, employee_id)
                practice = await repo.practice(conn, practice_id)
                if employee is not None:
                    await self._factor_changed(conn, practice, employee, "enrolled", now)
        if problem is not None:
            raise problem
        self.metrics.factor(pending.kind, "enrolled")
        return FactorView(
            factor_id=factor_id,
            kind=pending.kind,
            created_at=now,
            sent_to=pending.sent_to,
        )

    async def regenerate_recovery_code(self, token: str) -> RecoveryCode:
        """A new recovery code; the earlier one no longer works."""
        claims = await self.session(token, two_factor=True)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_employee_factors(conn, practice_id, employee_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            practice = await repo.practice(conn, practice_id)
            if employee is None:
                raise _session_revoked()
            code = await self._new_recovery_code(conn, practice_id, employee_id, now)
            await self.emit(
                conn,
                ENROLMENT_EVENTS,
                "recovery.regenerated",
                practice_id,
                employee_id,
                {"factor_id": recovery_factor_id(employee_id)},
                now,
            )
            await self._factor_changed(conn, practice, employee, "recovery code regenerated", now)
        self.metrics.factor("recovery", "regenerated")
        return RecoveryCode(recovery_code=code)

    # -- maintenance -----------------------------------------------------------------------

    async def housekeeping(self) -> None:
        now = utcnow()
        retention = timedelta(milliseconds=self.settings.topics.retention_ms)
        async with self.pool.acquire() as conn:
            await repo.housekeeping(conn, now, now - retention)


def _unmet_detail(unmet: list[str]) -> str:
    reasons = {
        "min_strength": "the minimum password strength must be at least 60",
        "email": "the practice's e-mail address must be set (activation codes are sent from it)",
    }
    return "To require two factors, " + " and ".join(reasons[u] for u in unmet) + "."


def _username_taken() -> Problem:
    return Problem(
        409,
        "username-taken",
        "Username taken",
        "Another employee of this practice has this username.",
    )


def _strong_factor_required() -> Problem:
    return Problem(
        409,
        "strong-factor-required",
        "Authenticator app required first",
        "SMS and e-mail codes are only offered to employees who have an authenticator app.",
    )


def _code_expired() -> Problem:
    return Problem(410, "code-expired", "Code expired", "Request a new code.")


def _same_employee(current: Employee, event: EmployeeUpserted) -> bool:
    return (
        current.username,
        current.name,
        current.birth_date,
        current.email,
        current.phone,
        current.bsn_hash,
        current.rights_group,
        current.in_service,
    ) == (
        event.username,
        event.name,
        event.birth_date,
        event.email,
        event.phone,
        event.bsn_hash,
        event.rights_group,
        event.in_service,
    )
