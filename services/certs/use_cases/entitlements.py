"""Which certificates an employee may use, for a service or any."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.certs import problems
from services.certs.adapters import certificates as repo
from services.certs.adapters import directory
from services.certs.api import Entitlements
from services.certs.domain.rules import may_use
from services.certs.use_cases.views import view
from shared.events import utcnow


@dataclass(frozen=True)
class EntitlementCheck:
    pool: asyncpg.Pool
    clock: Callable[[], datetime] = utcnow

    async def entitlements(self, practice: str, employee: str, service: str | None) -> Entitlements:
        """The certificates not expired that ``employee`` may use (for ``service``, if given)."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            person = await directory.employee(conn, practice, employee)
            if person is None:
                raise problems.unknown_employee()
            rows = await repo.certificates(conn, practice)
        usable = []
        for row in rows:
            state = repo.to_event(row)
            if state.not_after <= now:
                continue
            if may_use(
                state.type, state.grants, state.services, employee, person["in_service"], service
            ):
                usable.append(view(row))
        return Entitlements(employee=employee, service=service, certificates=usable)
