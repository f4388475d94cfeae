"""The store's event writer: events stamped with the service as their source, queued in the
caller's transaction (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass

from services.certs.settings import CertsSettings
from shared.outbox import EventWriter


@dataclass(frozen=True)
class Events(EventWriter):
    settings: CertsSettings
