"""The authenticator app (TOTP, RFC 6238) as the enrolment wizard sets it up: after the
identity check a new secret is shown as a QR code (and for manual entry), and the app's first
code proves it holds it; the new authenticator replaces an earlier one, and its confirming time
step is spent (auth refuses that code at login). The wizard's own steps (activation code,
identity check) are in :mod:`services.enrolment.use_cases.wizard`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.enrolment.adapters import repository as repo
from services.enrolment.adapters.qr import qr_svg
from services.enrolment.api import IdentityAccepted
from services.enrolment.domain.records import Factor
from services.enrolment.factors import EnrolledFactor
from services.enrolment.factors.credentials import Credentials
from shared import otp

KINDS = ("totp",)
FACTOR = EnrolledFactor(KINDS)


def new_secret() -> str:
    """A 160-bit secret for a new authenticator."""
    return otp.new_secret()


def shown(secret: str, practice_id: str, username: str) -> IdentityAccepted:
    """What the employee's app scans: the otpauth URI as a QR code, and the secret itself."""
    uri = otp.provisioning_uri(secret, practice_id, username)
    return IdentityAccepted(otpauth_uri=uri, secret=secret, qr_svg=qr_svg(uri))


@dataclass
class Authenticators:
    credentials: Credentials

    async def confirm(
        self,
        conn: asyncpg.Connection,
        practice_id: str,
        employee_id: str,
        secret: str,
        code: str,
        now: datetime,
    ) -> tuple[str, list[Factor]] | None:
        """With the app's code (±1 step): the new authenticator active in place of the
        employee's earlier ones, its confirming step recorded; (its id, the ones it replaced).
        None: the code does not match (nothing changed)."""
        step = otp.match_totp(secret, code, now)
        if step is None:
            return None
        active = await repo.active_factors(conn, practice_id, employee_id)
        replaced = [f for f in active if f.kind in KINDS]
        for factor in replaced:
            await self.credentials.deactivate(conn, factor, now)
        factor_id = f"{KINDS[0]}.{uuid.uuid4().hex[:16]}"
        sealed = self.credentials.seal(practice_id, employee_id, factor_id, {"secret": secret})
        await self.credentials.add(
            conn, practice_id, employee_id, factor_id, KINDS[0], sealed, now, step
        )
        return factor_id, replaced
