"""Recovery codes at login: a code works once and is replaced at once (the spend is
conditional on the factor's version), its use announced and the employee told."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

import asyncpg

from services.auth import problems
from services.auth.adapters import repository as repo
from services.auth.adapters.notices import Notices
from services.auth.api import VerifyRequest
from services.auth.domain import factors
from services.auth.domain.factors import Factor
from services.auth.factors import FactorModule, Outcome, Passed
from services.auth.factors.tools import StepTools, Usual
from services.auth.settings import AuthSettings
from shared import factor_kinds, otp
from shared.events import Envelope, FactorCredential, factor_aad
from shared.outbox import EventWriter
from shared.sealing import Keyring, SealingError
from shared.topics import AUTH_EVENTS, FACTORS, Topic

log = logging.getLogger(__name__)

CHANGE_RECOVERY_USED = "recovery code used"


@dataclass(frozen=True)
class Recovery(Usual):
    tools: StepTools
    settings: AuthSettings
    keyring: Keyring
    events: EventWriter
    notices: Notices
    kinds: ClassVar[tuple[str, ...]] = ("recovery",)

    async def verify(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        answer: VerifyRequest,
        now: datetime,
    ) -> Outcome:
        candidates = self.tools.candidates(step, "recovery")
        if not isinstance(candidates, list):
            return candidates
        used = self._match(step, candidates, answer.code or "")
        if used is None:
            await self.tools.failed(conn, step, "recovery", now)
            return problems.invalid_code()
        passed = Passed(
            "recovery", (factor_kinds.amr_of("recovery"),), detail={"factor_id": used.id}
        )
        if not await self._renew(conn, step, used, passed, now):
            await self.tools.failed(conn, step, "recovery", now)
            return problems.code_already_used()
        return await self.tools.complete_locked(conn, step, passed, now)

    def _match(self, step: repo.SecondStep, candidates: list[Factor], code: str) -> Factor | None:
        """The recovery factor whose code this is, if any."""
        for candidate in candidates:
            try:
                opened = self.tools.open_factor(step.practice.id, step.employee.id, candidate)
                stored = str(opened["hash"])
            except (SealingError, KeyError, ValueError):
                log.warning("factor %s does not open; skipped", candidate.id)
                continue
            if otp.same_code(code, stored):
                return candidate
        return None

    async def _renew(
        self,
        conn: asyncpg.Connection,
        step: repo.SecondStep,
        used: Factor,
        passed: Passed,
        now: datetime,
    ) -> bool:
        """Replace the code at once (its code and ``created_at`` stamped version + 1 on
        ``factors``, applied here only if the factor is still at the version the code was
        checked against), announce its use and tell the employee. False: spent by someone
        else meanwhile."""
        practice, employee = step.practice, step.employee
        new_code = otp.recovery_code()
        sealed = self.keyring.seal(
            json.dumps({"hash": otp.code_hash(new_code)}).encode(),
            factor_aad(practice.id, employee.id, used.id),
        )
        credential = await repo.spend_recovery(
            conn, practice.id, used.id, used.version, sealed, now, self.settings.zone
        )
        if credential is None:
            return False
        passed.recovery_code = new_code
        passed.events += self._announced(step, used, credential, now)
        return True

    def _announced(
        self, step: repo.SecondStep, used: Factor, credential: FactorCredential, now: datetime
    ) -> list[tuple[Topic, Envelope]]:
        """The new code on ``factors``, ``recovery.used``, and the e-mail to the employee."""
        practice, employee = step.practice, step.employee
        events = [
            self.events.outgoing(
                FACTORS,
                "factor.credential",
                practice.id,
                used.id,
                credential.model_dump(mode="json"),
                now,
            ),
            self.events.outgoing(
                AUTH_EVENTS,
                "recovery.used",
                practice.id,
                employee.id,
                {"employee": employee.id, "factor": used.id},
                now,
            ),
        ]
        if step.email:
            notice = self.notices.request(
                practice.id,
                employee.id,
                "email",
                "factor_changed",
                step.email,
                {
                    "practice_name": practice.name,
                    "employee_name": employee.name,
                    "change": CHANGE_RECOVERY_USED,
                    "changed_at": factors.format_time(now),
                },
                now,
            )
            events.append(notice)
        return events


MODULE = FactorModule()
