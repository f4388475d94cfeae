"""The first practice and its administrator (``tweestap bootstrap``): published through the
outbox like any writer's, so every zone and service learns them from the bus."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.auth.domain.records import Employee, Practice
from services.auth.use_cases.passwords import StorePassword
from shared import directory_trust
from shared.events import EmployeeUpserted, PracticeUpserted, utcnow
from shared.outbox import EventWriter
from shared.problems import Problem
from shared.sealing import Keyring
from shared.topics import DIRECTORY_EMPLOYEES, DIRECTORY_PRACTICES


@dataclass(frozen=True)
class FirstPractice:
    pool: asyncpg.Pool
    keyring: Keyring
    events: EventWriter
    passwords: StorePassword
    zone: str

    async def create(
        self,
        practice_id: str,
        practice_name: str,
        username: str,
        admin_name: str,
        password: str,
        email: str | None = None,
    ) -> str:
        """Create a practice and its first administrator (rights group 1); returns the
        administrator's employee id."""
        now = utcnow()
        async with self.pool.acquire() as conn:
            if await conn.fetchval("SELECT 1 FROM credentials WHERE practice = $1", practice_id):
                raise Problem(409, "practice-exists", "Practice already bootstrapped")
        employee_id = uuid.uuid4().hex[:12]
        practice_body = PracticeUpserted(
            name=practice_name, email=email, version=1, updated_at=now, zone=self.zone
        )
        employee_body = EmployeeUpserted(
            employee=employee_id,
            username=username,
            name=admin_name,
            rights_group=1,
            version=1,
            updated_at=now,
            zone=self.zone,
        )
        await self._publish(practice_id, practice_body, employee_body, now)
        practice = Practice(practice_id, practice_name, False, practice_body.password_policy)
        employee = Employee(practice_id, employee_id, username, admin_name, 1, True)
        await self.passwords.store(practice, employee, None, password, False, False, now)
        return employee_id

    async def _publish(
        self,
        practice_id: str,
        practice: PracticeUpserted,
        employee: EmployeeUpserted,
        now: datetime,
    ) -> None:
        """The practice and its administrator on the directory's topics, the administrator
        tagged as Tweestap's own writing (directory trust)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self.events.emit(
                conn,
                DIRECTORY_PRACTICES,
                "practice.upserted",
                practice_id,
                practice_id,
                practice.model_dump(mode="json"),
                now,
            )
            await self.events.emit(
                conn,
                DIRECTORY_EMPLOYEES,
                "employee.upserted",
                practice_id,
                employee.employee,
                directory_trust.tagged(self.keyring, practice_id, employee),
                now,
            )
