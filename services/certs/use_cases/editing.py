"""A change to a held certificate (configuring, granting, removing): the changed fields as
version + 1, with its event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.certs import problems
from services.certs.adapters import certificates as repo
from services.certs.adapters import directory
from services.certs.metrics import CertsMetrics
from services.certs.use_cases.recording import Recorder
from shared.events import CertificateUpserted, stamped, utcnow
from shared.merge import edit


@dataclass(frozen=True)
class Editor:
    pool: asyncpg.Pool
    recorder: Recorder
    metrics: CertsMetrics
    zone: str
    clock: Callable[[], datetime] = utcnow

    async def edit(
        self, practice: str, nr: str, change: str, updates: dict[str, Any], employee: str | None
    ) -> asyncpg.Record | None:
        """Apply ``updates`` to the certificate's state; ``employee``, if the change is about
        one, must be in the practice and is recorded in the event. The row after the change
        (none once removed)."""
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.certificate(conn, practice, nr, lock=True) is None:
                raise problems.no_certificate()
            if employee is not None and await directory.employee(conn, practice, employee) is None:
                raise problems.unknown_employee()
            # Only the changed fields get the new stamp: a removal in one zone survives a
            # concurrent grant or type change in the other.
            current = await repo.certificate_state(conn, practice, nr)
            changed = edit(current, updates, now, self.zone)
            state = CertificateUpserted(nr=nr, **stamped(changed, CertificateUpserted))
            await self.recorder.record(conn, practice, state, now, change, employee=employee)
            after = await repo.certificate(conn, practice, nr)
        self.metrics.changed(change)
        return after
