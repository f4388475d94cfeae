"""The enrolment service's event writer: events stamped with the service as their source,
queued in the caller's transaction (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass

from services.enrolment.settings import EnrolmentSettings
from shared.outbox import EventWriter


@dataclass
class Events(EventWriter):
    settings: EnrolmentSettings
