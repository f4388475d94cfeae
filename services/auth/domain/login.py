"""Which step a login takes next — pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from services.auth.domain import passwords
from services.auth.domain.records import Credential, Practice
from shared import assurance
from shared.assurance import Level

Next = Literal["change_password", "enrol", "second_factor", "done"]


def next_step(
    practice: Practice,
    credential: Credential,
    strong_factors: int,
    now: datetime,
    second_factor: bool = False,
) -> Next:
    """After a correct password: change it first if it must be; then a second factor if the
    practice requires one or the login asked for one (``second_factor``; enrol first if the
    employee has none); else the login is done."""
    changed_at = credential.changed_at or now
    if passwords.must_change(
        practice.policy, credential.strength, changed_at, credential.must_change, now
    ):
        return "change_password"
    if practice.two_factor_required or second_factor:
        return "second_factor" if strong_factors else "enrol"
    return "done"


def required_level(
    practice: Practice, rights_group: int, asked: Level | None, second_factor: bool
) -> Level:
    """The level a login must reach: the practice's minimum for the rights group, what the
    application asked (``asked``), and substantial when it asked for a second factor."""
    levels: list[Level] = [assurance.required(practice.assurance, rights_group)]
    if asked is not None:
        levels.append(asked)
    if second_factor:
        levels.append("substantial")
    return assurance.highest(levels)


def reaching(kinds: Iterable[str], needed: Level, levels: Mapping[str, Level]) -> list[str]:
    """Of the factor kinds ``kinds``, those that make a session of at least ``needed`` with the
    password."""
    return [
        kind
        for kind in kinds
        if assurance.at_least(assurance.level_of(assurance.means_of_factor(kind), levels), needed)
    ]
