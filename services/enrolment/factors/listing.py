"""The employee's own list of active factors, strongest kind first. A kind that shows more
than its kind and date (where codes go, a passkey's name) says so in its factor module's
``details`` (:mod:`services.enrolment.factors.registry`). When each last passed a login comes
from the audit trail (its ``login.succeeded`` records name the factor)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.enrolment.adapters import audit_store
from services.enrolment.adapters import repository as repo
from services.enrolment.api import FactorView
from services.enrolment.factors import no_details, registry
from services.enrolment.factors.credentials import Credentials
from services.enrolment.use_cases.access import Access
from shared.factor_kinds import KINDS


async def views(
    conn: asyncpg.Connection, credentials: Credentials, practice_id: str, employee_id: str
) -> list[FactorView]:
    """The employee's active factors, strongest kind first, as their owner or the practice's
    administrator sees them (never a secret)."""
    factors = await repo.active_factors(conn, practice_id, employee_id)
    factors.sort(key=lambda f: (KINDS[f.kind].order, f.created_at))
    used = await audit_store.last_used(conn, practice_id, employee_id)
    shown = []
    for f in factors:
        details = registry.details(f.kind)
        extra = details(credentials.open(f)) if details is not no_details else {}
        shown.append(
            FactorView(
                factor_id=f.id,
                kind=f.kind,
                created_at=f.created_at,
                last_used_at=used.get(f.id),
                **extra,
            )
        )
    return shown


@dataclass
class FactorListing:
    pool: asyncpg.Pool
    access: Access
    credentials: Credentials

    async def show(self, token: str) -> list[FactorView]:
        claims = await self.access.session(token, two_factor=True)
        async with self.pool.acquire() as conn:
            return await views(conn, self.credentials, claims["practice"], claims["sub"])
