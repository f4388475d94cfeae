"""A login completed by a means of its own (ADR 0012): an upstream OpenID Provider (Dezi) or
a certificate (UZI-pas, PKIoverheid) that the means' own use case has verified and mapped to
an employee. What every such login shares is here: the employee still in service, the level
from the table against what applies (the practice's minimum for the rights group, what the
application asked), the session's start after any cutoff, the token and ``login.succeeded``
— in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.api import TokenResponse
from services.auth.domain import tokens
from services.auth.use_cases.login_steps import LoginSteps
from services.auth.use_cases.tokens import Issuing
from shared import assurance
from shared.assurance import Level
from shared.events import utcnow


@dataclass(frozen=True)
class MeansLogin:
    pool: asyncpg.Pool
    issuing: Issuing
    steps: LoginSteps
    #: The means → level table (``TWEESTAP_ASSURANCE_LEVELS``).
    levels: Mapping[str, Level]

    async def complete(
        self,
        practice_id: str,
        employee_id: str,
        means: str,
        amr: tuple[str, ...],
        *,
        asked_level: Level | None = None,
        roles: tuple[str, ...] = (),
    ) -> TokenResponse:
        """The session of ``employee_id`` logged in with ``means`` (``dezi``, ``uzi-pas``,
        ``pkioverheid``), its ``amr`` and the ``roles`` the means vouched for: a two-factor
        session (``aal2``) at the means' level. Refused: an employee unknown or out of
        service (403 ``account-disabled``), a level below what applies (403
        ``assurance-level-too-low``)."""
        now = utcnow()
        level = assurance.level_of(means, self.levels)
        async with self.pool.acquire() as conn, conn.transaction():
            practice = await repo.practice(conn, practice_id)
            employee = await repo.employee(conn, practice_id, employee_id)
            if practice is None or employee is None or not employee.in_service:
                raise problems.account_disabled()
            applies = assurance.required(practice.assurance, employee.rights_group)
            needed = assurance.highest((applies, asked_level or "low"))
            if not assurance.at_least(level, needed):
                raise problems.assurance_level_too_low(needed)
            cutoff = await repo.session_cutoff(conn, practice.id, employee.id)
            session = tokens.Session.new(
                practice.id,
                employee.id,
                employee.rights_group,
                amr,
                tokens.TWO_FACTOR_AAL,
                tokens.session_start(now, cutoff),
                level,
                roles=roles,
            )
            token = await self.issuing.issue(conn, session, now, "token.issued")
            await self.steps.succeeded(conn, practice.id, employee, session, means, now)
        return token
