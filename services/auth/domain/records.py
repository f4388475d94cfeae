"""The auth service's view of practices, employees and password credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.assurance import Level
from shared.events import PasswordPolicy
from shared.usernames import normalise_username


@dataclass(frozen=True)
class Practice:
    id: str
    name: str
    two_factor_required: bool
    policy: PasswordPolicy
    #: The lowest level a login must have, and per rights group (shared/assurance.py).
    assurance: Mapping[str, Level] = field(default_factory=dict)


@dataclass(frozen=True)
class Employee:
    practice: str
    id: str
    username: str
    name: str
    rights_group: int
    in_service: bool

    @property
    def username_key(self) -> str:
        """What logins and the lockout are keyed on (:func:`normalise_username`)."""
        return normalise_username(self.username)


@dataclass(frozen=True)
class Credential:
    """A password: its argon2id hash, earlier hashes (newest first) and when it was set."""

    hash: str
    history: list[str] = field(default_factory=list)
    changed_at: datetime | None = None
    must_change: bool = False
    strength: int = 0
    version: int = 0
