"""Composes the enrolment service's use cases once, from the collaborators they share: the
HTTP and Kafka entry points reach every use case through the one :class:`Enrolment`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.enrolment.access import Access
from services.enrolment.adapters import repository as repo
from services.enrolment.directory import Directory
from services.enrolment.events import Events
from services.enrolment.factors.changes import FactorChanges
from services.enrolment.factors.code import CodeFactors
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.listing import FactorListing
from services.enrolment.factors.passkey import Passkeys
from services.enrolment.factors.recovery import RecoveryCodes
from services.enrolment.factors.totp import Authenticators
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.notices import Notices
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.wizard import (
    CheckIdentity,
    ConfirmAuthenticator,
    IdentityFailures,
    StartEnrolment,
    Wizard,
)
from shared.events import utcnow
from shared.gate import TokenGate
from shared.sealing import Keyring


@dataclass
class Enrolment:
    """The service's use cases: practice settings and the directory, the wizard, and the
    employee's own factors (one use case per kind: SMS/e-mail codes, recovery, passkeys)."""

    settings: EnrolmentSettings
    pool: asyncpg.Pool
    gate: TokenGate
    access: Access
    directory: Directory
    wizard: Wizard
    factors: FactorListing
    codes: CodeFactors
    recovery: RecoveryCodes
    passkeys: Passkeys

    async def housekeeping(self) -> None:
        """Forget what can no longer matter (old inbox rows, finished wizards)."""
        now = utcnow()
        retention = timedelta(milliseconds=self.settings.topics.retention_ms)
        async with self.pool.acquire() as conn:
            await repo.housekeeping(conn, now, now - retention)


def compose(
    settings: EnrolmentSettings,
    pool: asyncpg.Pool,
    keyring: Keyring,
    bsn_key: bytes,
    gate: TokenGate,
    metrics: EnrolmentMetrics,
) -> Enrolment:
    access = Access(settings, gate)
    events = Events(settings)
    notices = Notices(settings, keyring)
    credentials = Credentials(keyring, events, metrics)
    changes = FactorChanges(events, notices)
    recovery = RecoveryCodes(pool, access, credentials, events, notices, metrics)
    return Enrolment(
        settings=settings,
        pool=pool,
        gate=gate,
        access=access,
        directory=Directory(
            settings, pool, keyring, bsn_key, credentials, events, notices, metrics
        ),
        wizard=Wizard(
            start=StartEnrolment(settings, pool, access, events, notices, metrics),
            identify=CheckIdentity(
                settings,
                pool,
                keyring,
                bsn_key,
                access,
                IdentityFailures(settings, events, notices, metrics),
                events,
                metrics,
            ),
            confirm=ConfirmAuthenticator(
                settings,
                pool,
                keyring,
                access,
                Authenticators(credentials),
                recovery,
                changes,
                metrics,
            ),
        ),
        factors=FactorListing(pool, access, credentials),
        codes=CodeFactors(settings, pool, keyring, access, credentials, changes, notices, metrics),
        recovery=recovery,
        passkeys=Passkeys(settings, pool, bsn_key, access, credentials, changes, metrics),
    )
