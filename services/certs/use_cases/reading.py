"""Showing a practice's certificates."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.certs import problems
from services.certs.adapters import certificates as repo
from services.certs.api import CertificateView
from services.certs.use_cases.views import view


@dataclass(frozen=True)
class Reading:
    pool: asyncpg.Pool

    async def list_certificates(self, practice: str) -> list[CertificateView]:
        async with self.pool.acquire() as conn:
            return [view(r) for r in await repo.certificates(conn, practice)]

    async def get_certificate(self, practice: str, nr: str) -> CertificateView:
        async with self.pool.acquire() as conn:
            row = await repo.certificate(conn, practice, nr)
        if row is None:
            raise problems.no_certificate()
        return view(row)
