"""Assurance levels (eIDAS, DESIGN §12; ADR 0012) — pure, no I/O.

Every session has a level, looked up by the means it was made with in one table the
deployment may change (``TWEESTAP_ASSURANCE_LEVELS``): password only ``low``; a password and
a second factor ``substantial``; UZI-pas, a PKIoverheid certificate or Dezi ``high``; a passkey
``substantial``, ``high`` only for an authenticator model the deployment lists as certified
(by attestation). Tokens, ID tokens and introspection carry the level as ``acr``, an eIDAS
URI; Tweestap's own ``aal1``/``aal2``/``aal2-fallback`` stay in the ``aal`` claim.

A practice sets the lowest level it accepts, and per rights group (``assurance`` in its
settings: ``{"minimum": level, "1": level, …}``, each key merging on its own); an application
its own (its registration). A login below what applies is refused, naming the level."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal, get_args

Level = Literal["low", "substantial", "high"]
LEVELS: Final[tuple[Level, ...]] = get_args(Level)
#: The eIDAS levels of assurance as ``acr`` values (Commission Implementing Regulation
#: 2015/1502; the URIs of the eIDAS SAML attribute profile).
LOA_PREFIX: Final = "http://eidas.europa.eu/LoA/"
LOA: Final[Mapping[Level, str]] = {level: LOA_PREFIX + level for level in LEVELS}
#: The Dutch names, for people (the console, the login page).
DUTCH: Final[Mapping[Level, str]] = {"low": "laag", "substantial": "substantieel", "high": "hoog"}

#: The means a session can be made with, and their level unless the deployment says
#: otherwise. ``password+<factor>`` for a password and a second factor (the factor kinds of
#: shared/factor_kinds.py; ``certificate`` is the 12-hour fallback); ``password+passkey-
#: certified`` a passkey of a model listed as certified; the rest are means of their own.
DEFAULT_LEVELS: Final[Mapping[str, Level]] = {
    "password": "low",
    "password+totp": "substantial",
    "password+sms": "substantial",
    "password+email": "substantial",
    "password+recovery": "substantial",
    "password+passkey": "substantial",
    "password+passkey-certified": "high",
    "password+certificate": "substantial",
    "dezi": "high",
    "uzi-pas": "high",
    "pkioverheid": "high",
}
#: The keys of a practice's ``assurance``: its minimum and one per rights group (1-9).
PolicyKey = Literal["minimum", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
MINIMUM: Final = "minimum"
POLICY_KEYS: Final = frozenset(get_args(PolicyKey))


def rank(level: Level) -> int:
    return LEVELS.index(level)


def at_least(level: Level, needed: Level) -> bool:
    return rank(level) >= rank(needed)


def highest(levels: Iterable[Level]) -> Level:
    return max(levels, key=rank, default="low")


def table(overrides: Mapping[str, Level] | None = None) -> dict[str, Level]:
    """The deployment's table: the defaults with ``overrides`` (a setting) over them."""
    return {**DEFAULT_LEVELS, **(overrides or {})}


def level_of(means: str, levels: Mapping[str, Level]) -> Level:
    """The level of a session made with ``means``; a means the table does not name is
    ``low`` (the safe answer for anything new)."""
    return levels.get(means, "low")


def means_of_factor(kind: str, certified: bool = False) -> str:
    """The means of a login with a password and the second factor ``kind``."""
    return f"password+{kind}-certified" if certified else f"password+{kind}"


def check_policy(policy: Mapping[str, str]) -> dict[str, Level]:
    """A practice's ``assurance`` as given (keys ``minimum`` and ``1``-``9``, values levels);
    ValueError otherwise."""
    checked: dict[str, Level] = {}
    for key, value in policy.items():
        if key not in POLICY_KEYS:
            raise ValueError(f"{key[:20]!r}: minimum or a rights group 1-9")
        if value not in LEVELS:
            raise ValueError(f"{value[:20]!r}: one of {', '.join(LEVELS)}")
        checked[key] = value
    return checked


def required(policy: Mapping[str, str] | None, rights_group: int) -> Level:
    """The lowest level a login of someone in ``rights_group`` may have at a practice with
    this ``assurance``: the higher of its minimum and its rights group's."""
    found = dict(policy or {})
    asked = [found.get(MINIMUM), found.get(str(rights_group))]
    return highest(value for value in asked if value in LEVELS)


def level_of_acr(acr: object) -> Level | None:
    """The level an eIDAS ``acr`` names (None for anything else)."""
    if isinstance(acr, str) and acr.startswith(LOA_PREFIX):
        name = acr.removeprefix(LOA_PREFIX)
        return name if name in LEVELS else None
    return None
