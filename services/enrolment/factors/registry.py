"""The factors the enrolment service enrols, in one place: a new factor is a module
registered here."""

from __future__ import annotations

from collections.abc import Mapping

from services.enrolment.factors import (
    Details,
    EnrolledFactor,
    code,
    no_details,
    passkey,
    recovery,
    totp,
)

FACTORS: tuple[EnrolledFactor, ...] = (passkey.FACTOR, totp.FACTOR, code.FACTOR, recovery.FACTOR)
BY_KIND: Mapping[str, EnrolledFactor] = {kind: f for f in FACTORS for kind in f.kinds}


def details(kind: str) -> Details:
    found = BY_KIND.get(kind)
    return found.details if found else no_details


def named(kind: str) -> bool:
    """Whether the employee may name a factor of this kind (``PATCH /v1/factors/{id}``)."""
    found = BY_KIND.get(kind)
    return found.named if found else False
