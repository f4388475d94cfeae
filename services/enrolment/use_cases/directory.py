"""The administrator's directory: practice settings (the two-factor switch) and readiness
(:class:`Practices`), the employees and the deactivation of their factors (:class:`Employees`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.exceptions import UniqueViolationError

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.adapters.notices import Notices
from services.enrolment.api import (
    EmployeeListed,
    EmployeeUpdate,
    EmployeeView,
    PracticeUpdate,
    PracticeView,
    Readiness,
)
from services.enrolment.domain import bsn as bsns
from services.enrolment.domain import readiness as ready
from services.enrolment.domain.practice import (
    PracticeSettings,
    incomplete_employees,
    switching_on,
    two_factor_unmet,
)
from services.enrolment.domain.records import Employee, Practice
from services.enrolment.factors.credentials import Credentials
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.use_cases.access import Claims
from shared import actors, directory_trust, replicas
from shared.assurance import Level
from shared.events import (
    EmployeeUpserted,
    PracticeUpserted,
    stamped,
    utcnow,
)
from shared.factor_kinds import KINDS
from shared.merge import SETTING, edit
from shared.outbox import EventWriter
from shared.problems import Problem, not_found
from shared.sealing import Keyring
from shared.topics import (
    DIRECTORY_EMPLOYEES,
    DIRECTORY_PRACTICES,
    ENROLMENT_EVENTS,
)


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
        current.dezi_number,
    ) == (
        event.username,
        event.name,
        event.birth_date,
        event.email,
        event.phone,
        event.bsn_hash,
        event.rights_group,
        event.in_service,
        event.dezi_number or None,
    )


def _requested(
    body: PracticeUpdate,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Level]]:
    """The settings a request changes, the policy settings and the assurance minimums it
    changes."""
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "name" in given and body.name is not None:
        changes["name"] = body.name
    if "email" in given:
        changes["email"] = body.email
    if "two_factor_required" in given and body.two_factor_required is not None:
        changes["two_factor_required"] = body.two_factor_required
    if "ura" in given:
        changes["ura"] = body.ura
    policy = body.password_policy
    policy_changes = policy.model_dump(exclude_unset=True, exclude_none=True) if policy else {}
    return changes, policy_changes, {str(k): v for k, v in (body.assurance or {}).items()}


async def _refuse_unready_switch(
    conn: asyncpg.Connection,
    practice_id: str,
    before: PracticeSettings,
    after: PracticeSettings,
    confirmed: bool | None,
) -> None:
    """Two factors required need the policy and the address (422); switching them on while
    employees in service lack data needs the administrator's confirmation (409)."""
    if after.two_factor_required and (unmet := two_factor_unmet(after)):
        raise Problem(
            422,
            "two-factor-not-allowed",
            "Two-factor login cannot be required yet",
            problems.unmet_detail(unmet),
            unmet=unmet,
        )
    if switching_on(before, after) and not confirmed:
        incomplete = incomplete_employees(await repo.people(conn, practice_id))
        if incomplete:
            raise Problem(
                409,
                "employees-incomplete",
                "Employees lack data",
                f"{len(incomplete)} employee(s) in service lack birth date, e-mail address or "
                "BSN and cannot log in until that is complete; send confirm_incomplete: true to "
                "switch anyway.",
                employees=[asdict(i) for i in incomplete],
            )


@dataclass
class Practices:
    """The practice's settings: the password policy and the two-factor switch, refused
    while the policy or the practice's address is not ready, and the readiness report."""

    settings: EnrolmentSettings
    pool: asyncpg.Pool
    events: EventWriter
    metrics: EnrolmentMetrics

    @staticmethod
    def practice_view(practice: Practice) -> PracticeView:
        return PracticeView(
            id=practice.id,
            name=practice.name,
            email=practice.email,
            two_factor_required=practice.two_factor_required,
            password_policy=practice.policy,
            assurance=practice.assurance,
            version=practice.version,
            updated_at=practice.updated_at,
            ura=practice.ura,
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
        changes, policy_changes, assurance_changes = _requested(body)
        async with self.pool.acquire() as conn, conn.transaction():
            current = await repo.practice(conn, practice_id, for_update=True)
            if current is None:
                raise not_found("No such practice.")
            before = current.settings
            after = before.merged(changes, policy_changes, assurance_changes)
            await _refuse_unready_switch(conn, practice_id, before, after, body.confirm_incomplete)
            if after == before:
                return self.practice_view(current)
            event = await self._write(conn, claims, practice_id, before, after, now)
        self.metrics.written("practice")
        return PracticeView(
            id=practice_id,
            name=event.name,
            email=event.email,
            two_factor_required=event.two_factor_required,
            password_policy=event.password_policy,
            assurance=event.assurance,
            version=event.version,
            updated_at=now,
            ura=event.ura or None,
        )

    async def _write(
        self,
        conn: asyncpg.Connection,
        claims: Claims,
        practice_id: str,
        before: PracticeSettings,
        after: PracticeSettings,
        now: datetime,
    ) -> PracticeUpserted:
        """Store and publish the new settings. Only the changed fields get the new stamp (a
        concurrent edit of another field in the other zone survives, and so does this one
        there); the password policy per setting."""
        state = edit(
            await repo.PRACTICES.load(conn, (practice_id,)),
            repo.PRACTICES.column_values(
                {
                    "name": after.name,
                    "email": after.email,
                    "two_factor_required": after.two_factor_required,
                    **{
                        f"password_policy{SETTING}{name}": value
                        for name, value in after.policy.model_dump().items()
                    },
                    **{f"assurance{SETTING}{key}": value for key, value in after.assurance.items()},
                    # Stated only when it changes ("" records none): a practice that never
                    # had one publishes none, and writers that do not know it keep it.
                    **({"ura": after.ura or ""} if after.ura != before.ura else {}),
                }
            ),
            now,
            self.settings.zone,
        )
        event = PracticeUpserted(**stamped(repo.PRACTICES.event_state(state), PracticeUpserted))
        await repo.upsert_practice(conn, practice_id, event)
        await self.events.emit(
            conn,
            DIRECTORY_PRACTICES,
            "practice.upserted",
            practice_id,
            practice_id,
            {**event.model_dump(mode="json"), "actor": actors.of_claims(claims)},
            now,
        )
        return event

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


def _require_new_employee_fields(body: EmployeeUpdate) -> None:
    missing = [f for f in ("username", "name") if getattr(body, f) is None]
    if missing:
        raise Problem(
            422,
            "invalid-request",
            "The request is not valid",
            errors=[{"field": f, "message": "required for a new employee"} for f in missing],
        )


#: Fields a request may clear (``null``); any other field left ``null`` keeps its value.
_CLEARABLE = ("birth_date", "email", "phone")


def _dezi_number_change(body: EmployeeUpdate, current: Employee | None) -> dict[str, str]:
    """The Dezi number to write: only when the request changes it (``""`` records none), so
    that writers that never state it (host systems) keep it."""
    if "dezi_number" not in body.model_fields_set:
        return {}
    wanted = body.dezi_number or None
    if wanted == (current.dezi_number if current else None):
        return {}
    return {"dezi_number": wanted or ""}


def _employee_values(
    body: EmployeeUpdate, current: Employee | None, bsn_hash: str | None
) -> dict[str, Any]:
    """An employee's values after ``body``: what it gives, else what is stored, else the
    defaults of a new employee (rights group 2, in service)."""
    given = body.model_fields_set

    def value(field: str, default: Any) -> Any:
        if field in given and (getattr(body, field) is not None or field in _CLEARABLE):
            return getattr(body, field)
        return getattr(current, field) if current else default

    return {
        "username": value("username", None),
        "name": value("name", None),
        "birth_date": value("birth_date", None),
        "email": value("email", None),
        "phone": value("phone", None),
        "bsn_hash": bsn_hash or (current.bsn_hash if current else None),
        "rights_group": value("rights_group", 2),
        "in_service": value("in_service", True),
        **_dezi_number_change(body, current),
    }


@dataclass
class Employees:
    """The employee directory: the administrator's list, an employee's data (BSN kept only
    as a keyed hash) and the deactivation of an employee's factors."""

    settings: EnrolmentSettings
    pool: asyncpg.Pool
    keyring: Keyring
    bsn_key: bytes
    credentials: Credentials
    events: EventWriter
    notices: Notices
    metrics: EnrolmentMetrics

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
            dezi_number=employee.dezi_number,
        )

    async def list_employees(self, claims: Claims, practice_id: str) -> list[EmployeeListed]:
        """Every employee, with their sign-in methods and a waiting activation code."""
        now = utcnow()
        async with self.pool.acquire() as conn:
            employees = await repo.employees(conn, practice_id)
            kinds = await repo.factor_kinds(conn, practice_id)
            waiting = await repo.activations_waiting(conn, practice_id, now)
        order = {kind: info.order for kind, info in KINDS.items()}
        return [
            EmployeeListed(
                **self.employee_view(e).model_dump(),
                factor_kinds=sorted(kinds.get(e.id, []), key=lambda k: order.get(k, 99)),
                activation_valid_until=waiting.get(e.id),
            )
            for e in employees
        ]

    async def put_employee(
        self, claims: Claims, practice_id: str, employee_id: str, body: EmployeeUpdate
    ) -> EmployeeView:
        """Create or update an employee (fields left out keep their value)."""
        now = utcnow()
        bsn_hash = self._bsn_hash(body.bsn)
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.practice(conn, practice_id) is None:
                raise not_found("No such practice.")
            current = await repo.employee(conn, practice_id, employee_id, for_update=True)
            if current is None:
                _require_new_employee_fields(body)
            # Only the fields whose value changes get the new stamp: an edit of the e-mail
            # address cannot undo ``in_service: false`` set meanwhile in the other zone.
            state = edit(
                await repo.EMPLOYEES.load(conn, (practice_id, employee_id)),
                _employee_values(body, current, bsn_hash),
                now,
                self.settings.zone,
            )
            event = EmployeeUpserted(employee=employee_id, **stamped(state))
            if current is not None and _same_employee(current, event):
                return self.employee_view(current)
            await self._write(conn, claims, practice_id, event, now)
            stored = await repo.employee(conn, practice_id, employee_id)
        self.metrics.written("employee")
        assert stored is not None
        return self.employee_view(stored)

    def _bsn_hash(self, bsn: str | None) -> str | None:
        if bsn is None:
            return None
        try:
            return bsns.bsn_hash(self.bsn_key, bsn)
        except bsns.InvalidBsn as exc:
            raise Problem(
                422, "invalid-bsn", "Invalid BSN", f"The BSN is not valid: {exc}."
            ) from None

    async def _write(
        self,
        conn: asyncpg.Connection,
        claims: Claims,
        practice_id: str,
        event: EmployeeUpserted,
        now: datetime,
    ) -> None:
        """Store and publish an employee, its username and Dezi number unique in the
        practice."""
        if await repo.username_taken(conn, practice_id, event.username, event.employee):
            raise problems.username_taken()
        if event.dezi_number and await repo.dezi_number_taken(
            conn, practice_id, event.dezi_number, event.employee
        ):
            raise problems.dezi_number_taken()
        try:
            async with conn.transaction():
                await repo.upsert_employee(conn, practice_id, event)
        except UniqueViolationError:
            raise problems.username_taken() from None
        await self.events.emit(
            conn,
            DIRECTORY_EMPLOYEES,
            "employee.upserted",
            practice_id,
            event.employee,
            # Tagged: the administrator's own writes may give rights group 1.
            directory_trust.tagged(
                self.keyring, practice_id, event, {"actor": actors.of_claims(claims)}
            ),
            now,
        )

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
                await self.credentials.deactivate(conn, factor, now)
            await replicas.end_sessions(
                self.events, conn, practice_id, employee_id, now, "deactivated"
            )
            await self.events.emit(
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
                    "actor": actors.of_claims(claims),
                },
                now,
            )
            practice = await repo.practice(conn, practice_id)
            await self.notices.factor_changed(conn, practice, employee, "deactivated", now)
