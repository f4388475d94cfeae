"""Builds the certificate store's use cases once and wires each to what it uses: the HTTP
entry point reaches them through the one :class:`Certs`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.certs.metrics import CertsMetrics
from services.certs.settings import CertsSettings
from services.certs.use_cases.configuring import Configuring
from services.certs.use_cases.editing import Editor
from services.certs.use_cases.entitlements import EntitlementCheck
from services.certs.use_cases.expiry import ExpiryNotices
from services.certs.use_cases.granting import Granting
from services.certs.use_cases.importing import Importing
from services.certs.use_cases.maintenance import Maintenance
from services.certs.use_cases.reading import Reading
from services.certs.use_cases.recording import Recorder
from services.certs.use_cases.removing import Removing
from shared.gate import AdminCheck, TokenGate
from shared.outbox import EventWriter
from shared.sealing import Keyring


@dataclass(frozen=True)
class Certs:
    """The store's use cases; ``admin`` is the check every route makes first."""

    #: The practice administrator's check (:meth:`shared.gate.TokenGate.administrator`).
    admin: AdminCheck
    importing: Importing
    reading: Reading
    configuring: Configuring
    granting: Granting
    removing: Removing
    entitlements: EntitlementCheck
    expiry: ExpiryNotices
    maintenance: Maintenance


def compose(
    settings: CertsSettings,
    pool: asyncpg.Pool,
    keyring: Keyring,
    gate: TokenGate,
    metrics: CertsMetrics,
) -> Certs:
    events = EventWriter(settings)
    recorder = Recorder(events, metrics)
    editor = Editor(pool, recorder, metrics, settings.zone)
    expiry = ExpiryNotices(settings, pool, keyring, events, metrics)
    return Certs(
        admin=gate.administrator,
        importing=Importing(pool, keyring, recorder, metrics, settings.zone),
        reading=Reading(pool),
        configuring=Configuring(editor),
        granting=Granting(editor),
        removing=Removing(editor),
        entitlements=EntitlementCheck(pool),
        expiry=expiry,
        maintenance=Maintenance(
            pool,
            expiry,
            gate,
            retention=timedelta(milliseconds=settings.topics.retention_ms),
            interval_seconds=settings.expiry_check_seconds,
        ),
    )
