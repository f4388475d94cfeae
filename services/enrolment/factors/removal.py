"""Removing one sign-in method: the employee's own (``DELETE /v1/factors/{id}``, after a recent
strong login, never the last strong one). The removal replicates like every factor change (the
credential inactive on the compacted ``factors`` topic, so auth in both zones stops accepting
it), is announced as ``factor.removed`` with who did it (audited; unlike ``factor.deactivated``,
the administrator's deactivation of every factor, it ends no session and resets no failed
identity check in either zone), and the employee is told by e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.adapters.notices import Notices
from services.enrolment.domain.records import Employee, Factor, Practice
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.owner import lock_owner
from services.enrolment.use_cases.access import Access, Claims
from shared import actors, factor_kinds
from shared.events import utcnow
from shared.outbox import EventWriter
from shared.problems import forbidden
from shared.topics import ENROLMENT_EVENTS


def leaves_no_strong(factor: Factor, active: list[Factor]) -> bool:
    """Whether removing ``factor`` leaves the employee without a strong factor (a login would
    then offer nothing but the wizard, and SMS and e-mail codes stand alone)."""
    if not factor_kinds.is_strong(factor.kind):
        return False
    return not any(f.id != factor.id and factor_kinds.is_strong(f.kind) for f in active)


@dataclass(frozen=True)
class Removal:
    """One active factor deactivated, announced with who did it, and the employee told: what
    every removal of a single factor does, whoever asks for it."""

    credentials: Credentials
    events: EventWriter
    notices: Notices

    async def __call__(
        self,
        conn: asyncpg.Connection,
        claims: Claims,
        employee: Employee,
        practice: Practice | None,
        factor: Factor,
        now: datetime,
    ) -> None:
        await self.credentials.deactivate(conn, factor, now)
        await self.events.emit(
            conn,
            ENROLMENT_EVENTS,
            "factor.removed",
            employee.practice,
            employee.id,
            {
                "employee": employee.id,
                "factors": [factor.id],
                "kind": factor.kind,
                "actor": actors.of_claims(claims),
            },
            now,
        )
        await self.notices.factor_changed(conn, practice, employee, "deactivated", now)


@dataclass(frozen=True)
class OwnFactorRemoval:
    """The employee removes one of their own factors."""

    pool: asyncpg.Pool
    access: Access
    removal: Removal

    async def __call__(self, token: str, factor_id: str) -> None:
        """Refused, changing nothing: without a recent strong login (403
        ``reauthentication-required``), a factor that is not the caller's (403 ``forbidden``),
        the last strong one (409 ``last-strong-factor``). One already removed: done."""
        claims = await self.access.factor_change(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            employee, practice = await lock_owner(conn, practice_id, employee_id)
            active = await repo.active_factors(conn, practice_id, employee_id)
            factor = next((f for f in active if f.id == factor_id), None)
            if factor is None:
                if await repo.factor_owner(conn, practice_id, factor_id) == employee_id:
                    return  # removed before (here or in the other zone)
                raise forbidden("This is not one of your sign-in methods.")
            if leaves_no_strong(factor, active):
                raise problems.last_strong_factor()
            await self.removal(conn, claims, employee, practice, factor, now)
