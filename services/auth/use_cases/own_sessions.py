"""The employee ends every session of their own ("log out everywhere", issue 25): the same cutoff
as the administrator's task (:mod:`.account_admin`), raised in every service of both zones
(``sessions.revoked``; every application's grants get a back-channel logout), announced as the
same ``account.sessions_ended`` with the employee as the one who did it. The calling session
ends too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.adapters import sessions
from services.auth.api_accounts import SessionList, SessionsEnded, SessionView
from services.auth.use_cases.account_admin import SESSIONS_ENDED
from shared import actors, replicas
from shared.events import utcnow
from shared.outbox import EventWriter
from shared.problems import session_revoked
from shared.topics import AUTH_EVENTS


@dataclass(frozen=True)
class OwnSessions:
    pool: asyncpg.Pool
    events: EventWriter

    async def live(self, claims: dict[str, Any]) -> SessionList:
        """The caller's live sessions (both zones' logins and their applications'), newest
        first, the asking one marked."""
        practice_id, employee_id = str(claims["practice"]), str(claims["sub"])
        async with self.pool.acquire() as conn:
            rows = await sessions.live(conn, practice_id, employee_id, utcnow())
        current = claims.get("sid")
        return SessionList(
            sessions=[
                SessionView(
                    started_at=row.started_at,
                    address=row.address,
                    zone=row.zone,
                    client_id=row.client_id,
                    expires_at=row.expires_at,
                    current=row.sid == current,
                )
                for row in rows
            ]
        )

    async def end_all(self, claims: dict[str, Any]) -> SessionsEnded:
        """``claims``: a live session's (any: ending sessions needs no fresh login)."""
        practice_id, employee_id = str(claims["practice"]), str(claims["sub"])
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            employee = await repo.employee(conn, practice_id, employee_id)
            if employee is None:
                raise session_revoked()
            await replicas.end_sessions(self.events, conn, practice_id, employee_id, now, "logout")
            data = {
                "employee": employee_id,
                "username": employee.username_key,
                "actor": actors.of_claims(claims),
            }
            await self.events.emit(
                conn, AUTH_EVENTS, SESSIONS_ENDED, practice_id, employee_id, data, now
            )
        return SessionsEnded(employee=employee_id, before=now)
