"""Replacing the authenticator app (a new phone) from a fresh strong login: a new secret at
once (the login just proved the employee, so no activation code or identity check), and the
wizard's confirm step (:class:`ConfirmAuthenticator`) for its first code, which deactivates
the old app in the same transaction — until then the old one keeps working. The recovery code
stays. A replacement is an enrolment like the wizard's (the same row, states and limits), one
open at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.enrolment import problems
from services.enrolment.adapters import repository as repo
from services.enrolment.api import AppReplacementStarted, FactorView
from services.enrolment.factors import totp
from services.enrolment.factors.owner import has_totp, lock_owner
from services.enrolment.problems import HOUR
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.use_cases.access import Access
from services.enrolment.use_cases.wizard import ConfirmAuthenticator, enrolment_aad
from shared import otp
from shared.events import utcnow
from shared.sealing import Keyring

#: An activation code nobody is sent: a replacement starts identified.
_UNSENT_CODE_LENGTH = 32


@dataclass(frozen=True)
class ReplaceAuthenticator:
    settings: EnrolmentSettings
    pool: asyncpg.Pool
    keyring: Keyring
    access: Access
    confirmer: ConfirmAuthenticator

    async def start(self, token: str) -> AppReplacementStarted:
        """A new secret for the employee's new app. Refused without a recent strong login (403
        ``reauthentication-required``), without an app to replace (409 ``no-authenticator``),
        while enrolling is blocked (423) or after too many starts (429)."""
        claims = await self.access.factor_change(token)
        practice_id, employee_id = claims["practice"], claims["sub"]
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            employee, _ = await lock_owner(conn, practice_id, employee_id)
            if not has_totp(await repo.active_factors(conn, practice_id, employee_id)):
                raise problems.no_authenticator()
            if await repo.is_blocked(conn, practice_id, employee_id):
                raise problems.refusal("enrolment-blocked")
            sent = await repo.enrolments_since(conn, practice_id, employee_id, now - HOUR)
            if len(sent) >= self.settings.activation_sends_per_hour:
                raise problems.too_many(sent, now)
            await repo.void_open_enrolments(conn, practice_id, employee_id, now)
            enrolment_id = uuid.uuid4().hex
            expires_at = now + timedelta(seconds=self.settings.activation_code_seconds)
            unsent = otp.code_hash(otp.typable_code(_UNSENT_CODE_LENGTH))
            await repo.create_enrolment(
                conn,
                enrolment_id,
                practice_id,
                employee_id,
                str(claims["sid"]),
                unsent,
                now,
                expires_at,
            )
            secret = totp.new_secret()
            aad = enrolment_aad(practice_id, employee_id, enrolment_id)
            sealed = self.keyring.seal(secret.encode(), aad)
            await repo.identified(conn, enrolment_id, sealed, now, expires_at)
        shown = totp.shown(secret, practice_id, employee.username)
        return AppReplacementStarted(
            **shown.model_dump(), enrolment_id=enrolment_id, expires_at=expires_at
        )

    async def confirm(self, token: str, enrolment_id: str, code: str) -> FactorView:
        """The new app's first code: it becomes the employee's app, the old one inactive."""
        claims = await self.access.factor_change(token)
        factor_id, _ = await self.confirmer.confirm(claims, enrolment_id, code, new_recovery=False)
        return FactorView(factor_id=factor_id, kind=totp.KINDS[0], created_at=utcnow())
