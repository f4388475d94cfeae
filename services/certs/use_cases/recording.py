"""Recording a certificate's new state: its row, its event on ``certs.events`` and its expiry
gauge, in the caller's transaction. Beside the state, the event says what changed and who did
it (audit trail)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.certs.adapters import certificates as repo
from services.certs.metrics import CertsMetrics
from shared import actors
from shared.events import CertificateUpserted
from shared.outbox import EventWriter
from shared.topics import CERTS_EVENTS


@dataclass(frozen=True)
class Recorder:
    events: EventWriter
    metrics: CertsMetrics

    async def record(
        self,
        conn: asyncpg.Connection,
        practice: str,
        state: CertificateUpserted,
        now: datetime,
        change: str,
        sealed_key: str | None = None,
        employee: str | None = None,
    ) -> None:
        await repo.upsert_certificate(conn, practice, state, sealed_key)
        audit: dict[str, Any] = {"change": change, "actor": actors.current()}
        if employee is not None:
            audit["employee"] = employee
        data = {**state.model_dump(mode="json"), **audit}
        await self.events.emit(
            conn, CERTS_EVENTS, "certificate.upserted", practice, state.nr, data, now
        )
        if state.removed:
            self.metrics.forget(practice, state.nr)
        else:
            self.metrics.expires(practice, state.nr, state.not_after)
