"""The employee's own list of active factors, strongest kind first. A kind that shows more
than its kind and date (where codes go, a passkey's name) names its ``details`` here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.enrolment.access import Access
from services.enrolment.adapters import repository as repo
from services.enrolment.api import FactorView
from services.enrolment.factors import code, passkey
from services.enrolment.factors.credentials import Credentials
from shared.events import FACTOR_ORDER

#: Per kind: the extra fields of its view, from the opened credential.
Details = Callable[[dict[str, Any]], dict[str, Any]]
DETAILS: Mapping[str, Details] = {
    **{kind: code.details for kind in code.KINDS},
    "passkey": passkey.details,
}


@dataclass
class FactorListing:
    pool: asyncpg.Pool
    access: Access
    credentials: Credentials

    async def show(self, token: str) -> list[FactorView]:
        claims = await self.access.session(token, two_factor=True)
        async with self.pool.acquire() as conn:
            factors = await repo.active_factors(conn, claims["practice"], claims["sub"])
        order = {kind: i for i, kind in enumerate(FACTOR_ORDER)}
        factors.sort(key=lambda f: (order.get(f.kind, len(order)), f.created_at))
        views = []
        for f in factors:
            details = DETAILS.get(f.kind)
            extra = details(self.credentials.open(f)) if details else {}
            views.append(FactorView(factor_id=f.id, kind=f.kind, created_at=f.created_at, **extra))
        return views
