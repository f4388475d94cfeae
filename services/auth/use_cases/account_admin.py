"""The administrator's everyday account tasks (issue 25): each employee's account state at a
glance, unlocking a locked account in every zone, ending every session of an employee.

An unlock is a reset of the failure count (the same max-register a successful login moves,
:data:`repo.LOGIN_FAILURES`), announced as ``account.unlocked`` on ``auth.events`` so the
other zone resets too and the audit trail records who did it; it does not count as a login
(dormancy and the last login stay). Ending sessions raises the employee's cutoff like a
deactivation (``sessions.revoked`` on ``sts.revocations``), and ``account.sessions_ended``
says who did it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.api_accounts import AccountList, AccountStatus, AccountView, SessionsEnded
from services.auth.domain import passwords
from services.auth.domain.lockout import lock_state
from services.auth.domain.records import Employee, Practice
from shared import actors, replicas
from shared.events import utcnow
from shared.outbox import EventWriter
from shared.problems import not_found
from shared.tokens import require_admin
from shared.topics import AUTH_EVENTS

UNLOCKED = "account.unlocked"
SESSIONS_ENDED = "account.sessions_ended"


def account_view(practice: Practice, row: repo.AccountRow, now: datetime) -> AccountView:
    """One employee's account as the console shows it: what keeps them out first."""
    state = lock_state(row.failures, None, practice.policy, now)
    status: AccountStatus = "active"
    if not row.in_service:
        status = "out_of_service"
    elif state.locked(now):
        status = "locked"
    elif passwords.is_dormant(practice.policy, row.last_login, now):
        status = "dormant"
    return AccountView(
        employee=row.employee,
        username=row.username,
        status=status,
        failures=state.failures,
        locked_until=state.locked_until if state.locked(now) else None,
        last_login=row.last_login,
    )


@dataclass(frozen=True)
class AccountAdmin:
    pool: asyncpg.Pool
    events: EventWriter

    async def accounts(self, claims: dict[str, Any], practice_id: str) -> AccountList:
        require_admin(claims, practice_id)
        now = utcnow()
        async with self.pool.acquire() as conn:
            practice = await repo.practice(conn, practice_id)
            if practice is None:
                raise not_found("No such practice.")
            rows = await repo.account_rows(conn, practice_id)
        return AccountList(accounts=[account_view(practice, row, now) for row in rows])

    async def unlock(
        self, claims: dict[str, Any], practice_id: str, employee_id: str
    ) -> AccountView:
        """The employee's failed attempts no longer count, in both zones; repeating it is
        harmless (a reset only moves forward)."""
        require_admin(claims, practice_id)
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            practice, employee = await self._employee(conn, practice_id, employee_id)
            await repo.lock_attempts(conn, practice_id, employee.username_key)
            await repo.LOGIN_FAILURES.reset(conn, practice_id, employee.username_key, now)
            await self._announce(conn, UNLOCKED, claims, employee, now)
            rows = await repo.account_rows(conn, practice_id, employee_id)
        return account_view(practice, rows[0], now)

    async def end_sessions(
        self, claims: dict[str, Any], practice_id: str, employee_id: str
    ) -> SessionsEnded:
        """Every session of the employee that started until now ends, in every service of
        both zones (the administrator's own too, when it is theirs)."""
        require_admin(claims, practice_id)
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            _, employee = await self._employee(conn, practice_id, employee_id)
            await replicas.end_sessions(self.events, conn, practice_id, employee.id, now, "admin")
            await self._announce(conn, SESSIONS_ENDED, claims, employee, now)
        return SessionsEnded(employee=employee.id, before=now)

    async def _employee(
        self, conn: asyncpg.Connection, practice_id: str, employee_id: str
    ) -> tuple[Practice, Employee]:
        practice = await repo.practice(conn, practice_id)
        employee = await repo.employee(conn, practice_id, employee_id)
        if practice is None or employee is None:
            raise not_found("No such employee in this practice.")
        return practice, employee

    async def _announce(
        self,
        conn: asyncpg.Connection,
        kind: str,
        claims: dict[str, Any],
        employee: Employee,
        now: datetime,
    ) -> None:
        data = {
            "employee": employee.id,
            "username": employee.username_key,
            "actor": actors.actor(claims["sub"], claims.get("rg")),
        }
        await self.events.emit(conn, AUTH_EVENTS, kind, employee.practice, employee.id, data, now)
