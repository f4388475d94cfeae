"""Who may use a certificate, which expiry notice is due, and what binds a sealed key to its
certificate: pure."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.events import CertificateType

#: Days before expiry at which the practice is told; 0 is the expiry itself.
EXPIRY_THRESHOLDS = (30, 14, 7, 1, 0)
#: Namespace of the deterministic ids of expiry notices (both zones compute the same).
EXPIRY_NAMESPACE = uuid.UUID("5b0e1c1e-8f7a-4c43-9c1d-7a3e2f1c0b55")
AGB_PATTERN = re.compile(r"^[0-9]{8}$")
DAY = timedelta(days=1)


def may_use(
    type_: CertificateType,
    grants: Iterable[str],
    services: Iterable[str],
    employee: str,
    in_service: bool,
    service: str | None,
) -> bool:
    """Personal: only granted employees; Public: every employee in service. With
    ``service``, only certificates configured for it."""
    if not in_service:
        return False
    if service is not None and service not in services:
        return False
    return type_ == "public" or employee in grants


def due_threshold(not_after: datetime, now: datetime) -> int | None:
    """The smallest threshold (days) already reached, or None while none is."""
    left = not_after - now
    due = [t for t in EXPIRY_THRESHOLDS if left <= t * DAY]
    return min(due) if due else None


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days left, rounded up (0 once expired)."""
    left = (not_after - now).total_seconds()
    return 0 if left <= 0 else math.ceil(left / DAY.total_seconds())


def expiry_request_id(practice: str, nr: str, threshold: int) -> uuid.UUID:
    return uuid.uuid5(EXPIRY_NAMESPACE, f"{practice}:{nr}:{threshold}")


def expiry_event_id(practice: str, nr: str, threshold: int) -> uuid.UUID:
    return uuid.uuid5(EXPIRY_NAMESPACE, f"event:{practice}:{nr}:{threshold}")


def expiry_subject(nr: str, threshold: int) -> str:
    """The subject of an expiry event: not the certificate's own, so that on the compacted
    ``certs.events`` an expiry event never replaces the certificate's state."""
    return f"{nr}:expiry:{threshold}"


def certificate_aad(practice: str, nr: str) -> str:
    """Associated data of a sealed private key: a key sealed for one certificate does not open
    as another's."""
    return f"certificate:{practice}:{nr}"
