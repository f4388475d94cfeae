"""Naming one of one's own factors (``PATCH /v1/factors/{id} {name}``): a passkey's name, kept in
its sealed credential, so the change replicates like every factor change (the credential on the
compacted ``factors`` topic; only ``sealed`` is stamped). A name changes no way of logging in:
any two-factor session may change it, without a fresh login, and no e-mail is sent."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.api import FactorView
from services.enrolment.factors import registry
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.owner import lock_owner
from services.enrolment.use_cases.access import Access
from shared.events import utcnow
from shared.problems import forbidden, not_found


@dataclass(frozen=True)
class FactorNaming:
    pool: asyncpg.Pool
    access: Access
    credentials: Credentials

    async def __call__(self, token: str, factor_id: str, name: str) -> FactorView:
        """Refused, changing nothing: another employee's factor (403 ``forbidden``), an unknown
        or removed one (404), a kind without a name (409 ``factor-not-named``). The same name
        again writes nothing."""
        claims = await self.access.session(token, two_factor=True)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            await lock_owner(conn, practice_id, employee_id)
            active = await repo.active_factors(conn, practice_id, employee_id)
            factor = next((f for f in active if f.id == factor_id), None)
            if factor is None:
                owner = await repo.factor_owner(conn, practice_id, factor_id)
                if owner is not None and owner != employee_id:
                    raise forbidden("This is not one of your sign-in methods.")
                raise not_found("No such sign-in method of yours.")
            if not registry.named(factor.kind):
                raise problems.not_named()
            body = self.credentials.open(factor)
            if body.get("name") != name:
                body["name"] = name
                sealed = self.credentials.seal(practice_id, employee_id, factor.id, body)
                await self.credentials.change(conn, practice_id, factor.id, {"sealed": sealed}, now)
            details = registry.details(factor.kind)(body)
        return FactorView(
            factor_id=factor.id, kind=factor.kind, created_at=factor.created_at, **details
        )
