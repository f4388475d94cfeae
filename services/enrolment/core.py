"""What every enrolment use case shares: state, events, notifications, factor writes and
the token checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.enrolment.adapters import repository as repo
from services.enrolment.domain import enrolment as steps
from services.enrolment.domain.records import Employee, Factor, Practice
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.settings import EnrolmentSettings
from shared import otp, replicas
from shared.events import (
    FactorCredential,
    factor_aad,
    recovery_factor_id,
    stamped,
    utcnow,
)
from shared.gate import TokenGate
from shared.merge import edit
from shared.notify import local_time, notify_request, request_notification
from shared.outbox import EventWriter
from shared.problems import forbidden
from shared.sealing import Keyring
from shared.tokens import (
    FALLBACK_ACR,
    TWO_FACTOR_ACR,
    require_admin,
)
from shared.topics import (
    FACTORS,
)

Claims = dict[str, Any]
TWO_FACTOR_ACRS = frozenset({TWO_FACTOR_ACR, FALLBACK_ACR})


def enrolment_aad(practice: str, employee: str, enrolment_id: str) -> str:
    return f"enrolment:{practice}:{employee}:{enrolment_id}"


def pending_aad(practice: str, employee: str, factor_id: str) -> str:
    return f"pending-factor:{practice}:{employee}:{factor_id}"


@dataclass
class EnrolmentCore(EventWriter):
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    keyring: Keyring
    bsn_key: bytes
    gate: TokenGate
    metrics: EnrolmentMetrics

    # -- helpers ---------------------------------------------------------------------------

    async def notify(
        self,
        conn: asyncpg.Connection,
        practice: str,
        subject: str,
        channel: str,
        template: str,
        recipient: str,
        parameters: dict[str, str | int],
        secrets: dict[str, str] | None = None,
    ) -> None:
        assert channel in ("email", "sms")
        envelope = notify_request(
            self.settings,
            self.keyring,
            practice,
            subject,
            "email" if channel == "email" else "sms",
            template,
            recipient,
            parameters,
            secrets,
        )
        await request_notification(conn, self.settings, envelope)

    def mail_time(self, at: datetime) -> str:
        """A time as e-mails show it: ``23-11-2026 09:12`` in the configured time zone."""
        return local_time(at, self.settings.mail_time_zone, "%d-%m-%Y %H:%M")

    async def _factor_changed(
        self,
        conn: asyncpg.Connection,
        practice: Practice | None,
        employee: Employee,
        change: str,
        now: datetime,
    ) -> None:
        """Every factor change is e-mailed to the employee (someone else may have made it)."""
        if not employee.email:
            return
        await self.notify(
            conn,
            employee.practice,
            employee.id,
            "email",
            "factor_changed",
            employee.email,
            {
                "employee_name": employee.name,
                "practice_name": practice.name if practice else employee.practice,
                "change": change,
                "changed_at": self.mail_time(now),
            },
        )

    async def _write_factor(
        self, conn: asyncpg.Connection, practice: str, credential: FactorCredential, now: datetime
    ) -> None:
        await replicas.upsert_factor(conn, practice, credential)
        await self.emit(
            conn,
            FACTORS,
            "factor.credential",
            practice,
            credential.factor,
            credential.model_dump(mode="json"),
            now,
        )

    def _seal_factor(self, practice: str, employee: str, factor_id: str, body: Any) -> str:
        return self.keyring.seal(
            json.dumps(body).encode(), factor_aad(practice, employee, factor_id)
        )

    async def _deactivate(self, conn: asyncpg.Connection, factor: Factor, now: datetime) -> None:
        """A deactivated factor stays on the compacted topic as ``active: false``, without its
        secret (sealed ``{}``). Only ``active`` and ``sealed`` are stamped: a concurrent spend
        of a recovery code in the other zone (which writes its code) cannot reactivate it."""
        sealed = self._seal_factor(factor.practice, factor.employee, factor.id, {})
        await self._write_changes(
            conn, factor.practice, factor.id, {"active": False, "sealed": sealed}, now
        )
        self.metrics.factor(factor.kind, "deactivated")

    async def _write_changes(
        self,
        conn: asyncpg.Connection,
        practice: str,
        factor_id: str,
        changes: dict[str, Any],
        now: datetime,
    ) -> None:
        """Write ``changes`` to a factor, stamping only those fields (:func:`shared.merge.edit`)."""
        current = await replicas.FACTORS.load(conn, (practice, factor_id), lock=True)
        state = edit(current, changes, now, self.settings.zone)
        await self._write_factor(
            conn, practice, FactorCredential(factor=factor_id, **stamped(state)), now
        )

    async def _new_recovery_code(
        self, conn: asyncpg.Connection, practice: str, employee: str, now: datetime
    ) -> str:
        """A new recovery code replacing the employee's earlier one (one id per employee)."""
        code = otp.recovery_code()
        factor_id = recovery_factor_id(employee)
        sealed = self._seal_factor(practice, employee, factor_id, {"hash": otp.code_hash(code)})
        changes = {
            "employee": employee,
            "kind": "recovery",
            "sealed": sealed,
            "active": True,
            "created_at": now,
            "confirmed_step": None,
        }
        await self._write_changes(conn, practice, factor_id, changes, now)
        return code

    async def session(self, token: str, two_factor: bool = False) -> Claims:
        """Claims of a live session token; with ``two_factor``, only a two-factor session
        (``aal2``, ``aal2-fallback``)."""
        claims = await self.gate.live_session(token)
        if two_factor and claims.get("acr") not in TWO_FACTOR_ACRS:
            raise forbidden("This needs a session that logged in with two factors.")
        return claims

    async def admin(self, token: str, practice_id: str) -> Claims:
        """A live session of the practice's administrator (rights group 1, checked against the
        directory now rather than the token's claim)."""
        claims = await self.session(token)
        require_admin(claims, practice_id)
        return claims

    async def wizard(self, token: str) -> tuple[Claims, steps.Access]:
        """Claims of a token that may use the wizard: an enrolment token, or a session that
        logged in with a recovery code a short while ago."""
        claims = await self.gate.signed_subject_claims(token)
        window = timedelta(seconds=self.settings.recovery_reenrol_seconds)
        access = steps.wizard_access(claims, utcnow(), window)
        if access is None:
            raise forbidden(
                "The wizard needs an enrolment token, or a session that just logged in with "
                "a recovery code."
            )
        await self.gate.live_state(claims)
        return claims, access

    async def housekeeping(self) -> None:
        now = utcnow()
        retention = timedelta(milliseconds=self.settings.topics.retention_ms)
        async with self.pool.acquire() as conn:
            await repo.housekeeping(conn, now, now - retention)
