"""Writing factor credentials: sealed, stored and published on the compacted ``factors``
topic in the caller's transaction, so auth in both zones gets every change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.enrolment.domain.records import Factor
from services.enrolment.metrics import EnrolmentMetrics
from shared import replicas
from shared.events import FactorCredential, FactorKind, factor_aad, stamped
from shared.merge import edit
from shared.outbox import EventWriter
from shared.sealing import Keyring
from shared.topics import FACTORS


@dataclass
class Credentials:
    keyring: Keyring
    events: EventWriter
    metrics: EnrolmentMetrics

    def seal(self, practice: str, employee: str, factor_id: str, body: Any) -> str:
        return self.keyring.seal(
            json.dumps(body).encode(), factor_aad(practice, employee, factor_id)
        )

    def open(self, factor: Factor) -> Any:
        return json.loads(
            self.keyring.open(
                factor.sealed, factor_aad(factor.practice, factor.employee, factor.id)
            )
        )

    async def write(
        self, conn: asyncpg.Connection, practice: str, credential: FactorCredential, now: datetime
    ) -> None:
        await replicas.upsert_factor(conn, practice, credential)
        await self.events.emit(
            conn,
            FACTORS,
            "factor.credential",
            practice,
            credential.factor,
            credential.model_dump(mode="json"),
            now,
        )

    async def add(
        self,
        conn: asyncpg.Connection,
        practice: str,
        employee: str,
        factor_id: str,
        kind: FactorKind,
        sealed: str,
        now: datetime,
        confirmed_step: int | None = None,
    ) -> None:
        """A new active factor (version 1, stamped by this zone)."""
        credential = FactorCredential(
            factor=factor_id,
            employee=employee,
            kind=kind,
            sealed=sealed,
            active=True,
            created_at=now,
            confirmed_step=confirmed_step,
            version=1,
            updated_at=now,
            zone=self.events.settings.zone,
        )
        await self.write(conn, practice, credential, now)

    async def change(
        self,
        conn: asyncpg.Connection,
        practice: str,
        factor_id: str,
        changes: dict[str, Any],
        now: datetime,
    ) -> None:
        """Write ``changes`` to a factor, stamping only those fields (:func:`shared.merge.edit`)."""
        current = await replicas.FACTORS.load(conn, (practice, factor_id), lock=True)
        state = edit(current, changes, now, self.events.settings.zone)
        await self.write(conn, practice, FactorCredential(factor=factor_id, **stamped(state)), now)

    async def deactivate(self, conn: asyncpg.Connection, factor: Factor, now: datetime) -> None:
        """A deactivated factor stays on the compacted topic as ``active: false``, without its
        secret (sealed ``{}``). Only ``active`` and ``sealed`` are stamped: a concurrent spend
        of a recovery code in the other zone (which writes its code) cannot reactivate it."""
        sealed = self.seal(factor.practice, factor.employee, factor.id, {})
        await self.change(
            conn, factor.practice, factor.id, {"active": False, "sealed": sealed}, now
        )
        self.metrics.factor(factor.kind, "deactivated")
