"""Use cases of the enrolment service: practice settings, the employee directory, readiness,
the enrolment wizard (activation code → identity → TOTP secret → confirm), SMS/e-mail factors,
recovery codes and the administrator's deactivation. HTTP and Kafka entry points call these;
they call the domain rules and the repository, and decide the transactions: every state
change commits together with its events (outbox) and notification requests."""

from __future__ import annotations

from dataclasses import dataclass

from services.enrolment.directory import Directory
from services.enrolment.own_factors import OwnFactors
from services.enrolment.wizard import Wizard


@dataclass
class EnrolmentService(Directory, Wizard, OwnFactors):
    """Every use case of the service (one object for the HTTP and Kafka entry points)."""
