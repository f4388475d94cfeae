"""What an employee still lacks: for the identity check of the wizard (birth date, e-mail
address for the activation code, BSN) and for logging in with two factors (a strong factor)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

#: What the wizard needs: the activation code goes to the e-mail address, the employee proves
#: who they are with that code, the birth date and the BSN.
IDENTITY_FIELDS = ("birth_date", "email", "bsn")
STRONG_FACTOR = "strong_factor"


@dataclass(frozen=True)
class Person:
    employee: str
    username: str
    name: str
    in_service: bool
    birth_date: date | None
    email: str | None
    has_bsn: bool
    has_strong_factor: bool = False


def missing_identity(person: Person) -> list[str]:
    """The identity fields the employee lacks, in :data:`IDENTITY_FIELDS` order."""
    present = {
        "birth_date": person.birth_date is not None,
        "email": bool(person.email),
        "bsn": person.has_bsn,
    }
    return [f for f in IDENTITY_FIELDS if not present[f]]


def missing(person: Person) -> list[str]:
    """Everything the employee lacks to log in with two factors."""
    lacks = missing_identity(person)
    if not person.has_strong_factor:
        lacks.append(STRONG_FACTOR)
    return lacks


@dataclass(frozen=True)
class Summary:
    #: Employees in service (the others do not log in and are not counted).
    employees: int
    #: Have everything: identity data and a strong factor.
    ready: int
    #: Lack birth date, e-mail or BSN: cannot log in once two factors are required.
    incomplete: int
    #: Complete but without a strong factor: will be sent through the wizard at next login.
    to_enrol: int


def summarise(people: list[Person]) -> Summary:
    active = [p for p in people if p.in_service]
    incomplete = sum(1 for p in active if missing_identity(p))
    ready = sum(1 for p in active if not missing(p))
    return Summary(
        employees=len(active),
        ready=ready,
        incomplete=incomplete,
        to_enrol=len(active) - ready - incomplete,
    )
