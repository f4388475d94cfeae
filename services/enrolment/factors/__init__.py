"""Second factors as the enrolment service keeps them, one module per factor (Ory Kratos'
strategies): ``totp`` (the authenticator app the wizard sets up), ``code`` (SMS and e-mail),
``recovery`` and ``passkey``, each with its use case and one :class:`EnrolledFactor` that says
what it plugs in; :mod:`.registry` lists them. What every factor shares: writing credentials
(:mod:`.credentials`), telling the employee (:mod:`.changes`), the owner's lock
(:mod:`.owner`) and the employee's list (:mod:`.listing`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: What the employee's list shows of a factor, from its opened credential.
Details = Callable[[dict[str, Any]], dict[str, Any]]


def no_details(body: dict[str, Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class EnrolledFactor:
    """What a factor module of enrolment plugs in: the kinds it enrols (their specs are in
    :mod:`shared.factor_kinds`), what the employee's list shows of one, and whether a new one
    replaces the employee's earlier one of the same kind (an authenticator, a phone number)
    or stands beside it (passkeys), and whether the employee may name one (its credential's
    ``name``, which the list shows)."""

    kinds: tuple[str, ...]
    details: Details = no_details
    replaces_same_kind: bool = True
    named: bool = False
