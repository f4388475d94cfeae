"""What follows every factor an employee gains: the ``factor.enrolled`` event and the e-mail
telling the employee (someone else may have made the change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.enrolment.adapters import repository as repo
from services.enrolment.adapters.notices import Notices
from services.enrolment.domain.records import Factor
from shared import actors
from shared.outbox import EventWriter
from shared.topics import ENROLMENT_EVENTS


@dataclass
class FactorChanges:
    events: EventWriter
    notices: Notices

    async def enrolled(
        self,
        conn: asyncpg.Connection,
        claims: dict[str, Any],
        factor_id: str,
        kind: str,
        replaced: list[Factor],
        now: datetime,
        **context: Any,
    ) -> None:
        """``context`` comes first in the event's data (the wizard's ``enrolment_id``)."""
        practice_id, employee_id = claims["practice"], claims["sub"]
        await self.events.emit(
            conn,
            ENROLMENT_EVENTS,
            "factor.enrolled",
            practice_id,
            employee_id,
            {
                **context,
                "factor_id": factor_id,
                "kind": kind,
                "replaced": [f.id for f in replaced],
                "actor": actors.of_claims(claims),
            },
            now,
        )
        employee = await repo.employee(conn, practice_id, employee_id)
        practice = await repo.practice(conn, practice_id)
        if employee is not None:
            await self.notices.factor_changed(conn, practice, employee, "enrolled", now)
