"""Practice settings: merging a partial update, and the rules for requiring two factors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.enrolment.domain.readiness import Person, missing_identity
from shared.assurance import Level
from shared.events import PasswordPolicy

#: A practice that requires two factors needs at least this minimum password strength.
MIN_STRENGTH_FOR_TWO_FACTOR = 60


@dataclass(frozen=True)
class PracticeSettings:
    name: str
    email: str | None
    two_factor_required: bool
    policy: PasswordPolicy
    #: Assurance minimums (shared/assurance.py): ``minimum`` and per rights group.
    assurance: Mapping[str, Level] = field(default_factory=dict)
    #: The URA (care provider number) Dezi and UZI-pas logins must act for (None: none).
    ura: str | None = None

    def merged(
        self,
        changes: Mapping[str, Any],
        policy_changes: Mapping[str, Any],
        assurance_changes: Mapping[str, Level] | None = None,
    ) -> PracticeSettings:
        """These settings with ``changes`` (fields given in the request) applied; policy
        fields and assurance keys not given keep their value. Raises pydantic's
        ValidationError for a policy that is not valid as a whole."""
        policy = PasswordPolicy.model_validate({**self.policy.model_dump(), **policy_changes})
        assurance = {**self.assurance, **(assurance_changes or {})}
        return replace(self, **dict(changes), policy=policy, assurance=assurance)


def two_factor_unmet(settings: PracticeSettings) -> list[str]:
    """What a practice lacks to require two factors: ``min_strength`` (below 60) and
    ``email`` (activation codes are sent from the practice's address)."""
    unmet = []
    if settings.policy.min_strength < MIN_STRENGTH_FOR_TWO_FACTOR:
        unmet.append("min_strength")
    if not settings.email:
        unmet.append("email")
    return unmet


def switching_on(before: PracticeSettings, after: PracticeSettings) -> bool:
    return after.two_factor_required and not before.two_factor_required


@dataclass(frozen=True)
class Incomplete:
    employee: str
    username: str
    name: str
    missing: list[str]


def incomplete_employees(people: list[Person]) -> list[Incomplete]:
    """Employees in service who cannot log in once two factors are required: they lack what
    the wizard's identity check needs."""
    return [
        Incomplete(p.employee, p.username, p.name, lacks)
        for p in people
        if p.in_service and (lacks := missing_identity(p))
    ]
