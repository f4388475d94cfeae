"""The enrolment service's view of practices, employees, factors and wizard state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.enrolment.domain.enrolment import State
from services.enrolment.domain.practice import PracticeSettings
from services.enrolment.domain.readiness import Person
from shared.assurance import Level
from shared.events import FactorKind, PasswordPolicy


@dataclass(frozen=True)
class Practice:
    id: str
    name: str
    email: str | None
    two_factor_required: bool
    policy: PasswordPolicy
    assurance: dict[str, Level]
    version: int
    updated_at: datetime
    #: The URA (None: none recorded).
    ura: str | None = None

    @property
    def settings(self) -> PracticeSettings:
        return PracticeSettings(
            self.name, self.email, self.two_factor_required, self.policy, self.assurance, self.ura
        )


@dataclass(frozen=True)
class Employee:
    practice: str
    id: str
    username: str
    name: str
    birth_date: date | None
    email: str | None
    phone: str | None
    bsn_hash: str | None
    rights_group: int
    in_service: bool
    version: int
    updated_at: datetime
    #: The Dezi/UZI number (None: none recorded).
    dezi_number: str | None = None

    def person(self, has_strong_factor: bool = False) -> Person:
        return Person(
            employee=self.id,
            username=self.username,
            name=self.name,
            in_service=self.in_service,
            birth_date=self.birth_date,
            email=self.email,
            has_bsn=self.bsn_hash is not None,
            has_strong_factor=has_strong_factor,
        )


WeakKind = Literal["sms", "email"]


@dataclass(frozen=True)
class Factor:
    practice: str
    id: str
    employee: str
    kind: FactorKind
    sealed: str
    active: bool
    created_at: datetime
    confirmed_step: int | None
    version: int


@dataclass(frozen=True)
class Enrolment:
    id: str
    practice: str
    employee: str
    login_id: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    state: State
    confirm_failures: int
    sealed_secret: str | None


@dataclass(frozen=True)
class PendingFactor:
    id: str
    practice: str
    employee: str
    kind: WeakKind
    sealed: str
    sealed_code: str
    sent_to: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    state: str
