"""Composes the enrolment service's use cases once, from the collaborators they share: the
HTTP and Kafka entry points reach every use case through the one :class:`Enrolment` (which no
use case receives)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.enrolment.adapters.notices import Notices
from services.enrolment.factors.changes import FactorChanges
from services.enrolment.factors.code import CodeFactors
from services.enrolment.factors.credentials import Credentials
from services.enrolment.factors.listing import FactorListing
from services.enrolment.factors.naming import FactorNaming
from services.enrolment.factors.passkey import Passkeys
from services.enrolment.factors.recovery import RecoveryCodes
from services.enrolment.factors.removal import OwnFactorRemoval, Removal
from services.enrolment.factors.totp import Authenticators
from services.enrolment.metrics import EnrolmentMetrics
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.use_cases.access import Access
from services.enrolment.use_cases.activation_resend import ResendActivation
from services.enrolment.use_cases.app_replacement import ReplaceAuthenticator
from services.enrolment.use_cases.audit import AuditTrail
from services.enrolment.use_cases.dezi_links import DeziLinks
from services.enrolment.use_cases.directory import Employees, Practices
from services.enrolment.use_cases.employee_factors import EmployeeFactors
from services.enrolment.use_cases.housekeeping import Maintenance
from services.enrolment.use_cases.wizard import (
    CheckIdentity,
    ConfirmAuthenticator,
    IdentityFailures,
    ShowAuthenticator,
    StartEnrolment,
    Wizard,
)
from shared.gate import TokenGate
from shared.outbox import EventWriter
from shared.sealing import Keyring

#: Seconds between two rounds of the periodic work.
HOUSEKEEPING_SECONDS = 300


@dataclass
class Enrolment:
    """The service's use cases: practice settings and the directory, the wizard, and the
    employee's own factors (one use case per kind: SMS/e-mail codes, recovery, passkeys)."""

    access: Access
    practices: Practices
    employees: Employees
    wizard: Wizard
    factors: FactorListing
    #: The administrator resends an employee's waiting activation code (issue 25).
    resend_activation: ResendActivation
    #: An employee's sign-in methods as the administrator sees and removes them (issue 25).
    employee_factors: EmployeeFactors
    codes: CodeFactors
    recovery: RecoveryCodes
    passkeys: Passkeys
    audit: AuditTrail
    maintenance: Maintenance
    #: An employee linking Dezi to themselves (docs/adr/0014).
    dezi: DeziLinks
    #: An employee removing one of their own factors.
    removal: OwnFactorRemoval
    #: An employee naming one of their own passkeys.
    naming: FactorNaming
    #: An employee replacing their authenticator app (a new phone).
    app_replacement: ReplaceAuthenticator


def compose(
    settings: EnrolmentSettings,
    pool: asyncpg.Pool,
    keyring: Keyring,
    bsn_key: bytes,
    gate: TokenGate,
    metrics: EnrolmentMetrics,
) -> Enrolment:
    access = Access(settings, gate)
    events = EventWriter(settings)
    notices = Notices(settings, keyring)
    credentials = Credentials(keyring, events, metrics)
    changes = FactorChanges(events, notices)
    recovery = RecoveryCodes(pool, access, credentials, events, notices, metrics)
    retention = timedelta(milliseconds=settings.topics.retention_ms)
    employees = Employees(settings, pool, keyring, bsn_key, credentials, events, notices, metrics)
    confirm = ConfirmAuthenticator(
        settings, pool, keyring, access, Authenticators(credentials), recovery, changes, metrics
    )
    removal = Removal(credentials, events, notices)
    start = StartEnrolment(settings, pool, access, events, notices, metrics)
    return Enrolment(
        access=access,
        practices=Practices(settings, pool, events, metrics),
        employees=employees,
        wizard=Wizard(
            start=start,
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
            confirm=confirm,
            show=ShowAuthenticator(pool, keyring, access),
        ),
        factors=FactorListing(pool, access, credentials),
        employee_factors=EmployeeFactors(pool, credentials, removal),
        resend_activation=ResendActivation(pool, start, events),
        codes=CodeFactors(settings, pool, keyring, access, credentials, changes, notices, metrics),
        recovery=recovery,
        passkeys=Passkeys(settings, pool, bsn_key, access, credentials, changes, metrics),
        audit=AuditTrail(settings, pool, metrics, access.admin),
        maintenance=Maintenance(pool, gate, retention, HOUSEKEEPING_SECONDS),
        dezi=DeziLinks(access, gate, employees),
        removal=OwnFactorRemoval(pool, access, removal),
        naming=FactorNaming(pool, access, credentials),
        app_replacement=ReplaceAuthenticator(settings, pool, keyring, access, confirm),
    )
