"""What a Dezi login says — pure, no I/O: the person (their Dezi number), for which care
providers (URA) they act in which roles, and how strongly Dezi authenticated them.

Dezi has said it two ways (the Nuts "Generic Functions" guide, DeziIDTokenCredential and
DeziUserCredential); both are read:

- the April 2024 interface: ``Dezi_id`` (or ``uzi_id``), ``initials``, ``surname_prefix``,
  ``surname``, ``relations`` (``[{ura, entity_name, roles: [...]}]``), ``loa_authn``;
- the 0.7 interface (the "verklaring"): ``dezi_nummer``, ``voorletters``, ``voorvoegsel``,
  ``achternaam``, ``abonnee_nummer`` (the URA), ``abonnee_naam``, ``rol_code``, ``loa_dezi``.

A login is linked to an employee by the Dezi number only, and to a practice by the URA only:
never by name or e-mail address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.assurance import Level, level_of_acr, rank
from shared.care_identifiers import MAX_ROLES, is_dezi_number, is_role_code, is_ura

NUMBER_CLAIMS = ("dezi_nummer", "Dezi_id", "uzi_id")
#: Where Dezi states the level of assurance of its authentication (eIDAS URIs).
LEVEL_CLAIMS = ("acr", "loa_dezi", "loa_Dezi", "loa_authn")


class NotDezi(Exception):
    """The claims do not say who the person is in Dezi's terms (the reason, no secrets)."""


@dataclass(frozen=True)
class Relation:
    """A care provider (its URA) the person acts for, in these roles."""

    ura: str
    name: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True)
class DeziIdentity:
    number: str
    relations: tuple[Relation, ...]
    #: Initials, prefix and surname, for people (a page, the audit trail), never for linking.
    name: str | None
    #: The lowest level Dezi states (None: it states none).
    level: Level | None

    def relation(self, ura: str | None) -> Relation | None:
        """The relation for the practice's URA (None: the person does not act for it)."""
        if ura is None:
            return None
        return next((r for r in self.relations if r.ura == ura), None)

    @property
    def uras(self) -> tuple[str, ...]:
        return tuple(r.ura for r in self.relations)


def identity(claims: Mapping[str, Any]) -> DeziIdentity:
    """The Dezi identity ``claims`` (the ID token's with userinfo's) state; :class:`NotDezi`
    when they name no valid Dezi number, or disagree about it."""
    numbers = {claims[name] for name in NUMBER_CLAIMS if claims.get(name) is not None}
    if not numbers:
        raise NotDezi("no Dezi number in the answer")
    if len(numbers) > 1:
        raise NotDezi("the answer states two Dezi numbers")
    number = numbers.pop()
    if not is_dezi_number(number):
        raise NotDezi("the Dezi number is not digits")
    return DeziIdentity(number, _relations(claims), _name(claims), stated_level(claims))


def _relations(claims: Mapping[str, Any]) -> tuple[Relation, ...]:
    found: list[Relation] = []
    listed = claims.get("relations")
    if isinstance(listed, list):
        for item in listed[:MAX_ROLES]:
            if isinstance(item, dict) and is_ura(item.get("ura")):
                roles = item.get("roles")
                found.append(
                    Relation(
                        str(item["ura"]),
                        _text(item.get("entity_name")),
                        _roles(roles if isinstance(roles, list) else []),
                    )
                )
    ura = claims.get("abonnee_nummer")
    if is_ura(ura):
        found.append(
            Relation(str(ura), _text(claims.get("abonnee_naam")), _roles([claims.get("rol_code")]))
        )
    return tuple(found)


def _roles(values: list[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in values[:MAX_ROLES] if is_role_code(v)))


def _text(value: object, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _name(claims: Mapping[str, Any]) -> str | None:
    parts = (
        _text(claims.get(a)) or _text(claims.get(b))
        for a, b in (
            ("voorletters", "initials"),
            ("voorvoegsel", "surname_prefix"),
            ("achternaam", "surname"),
        )
    )
    name = " ".join(p for p in parts if p)
    return name[:200] or None


def stated_level(claims: Mapping[str, Any]) -> Level | None:
    """The lowest eIDAS level the claims state (``acr``, ``loa_dezi``, ``loa_authn``)."""
    stated = (level_of_acr(claims.get(name)) for name in LEVEL_CLAIMS)
    levels = [level for level in stated if level is not None]
    if not levels:
        return None
    lowest: Level = min(levels, key=rank)
    return lowest


@dataclass(frozen=True)
class Linked:
    """An employee whose Dezi number is the login's, and their practice's URA."""

    practice: str
    employee: str
    ura: str | None


class Unlinked(Exception):
    """No employee has this Dezi number."""


class WrongUra(Exception):
    """Employees have this Dezi number, but Dezi says the person acts for none of their
    practices (no relation with a practice's URA)."""


class Ambiguous(Exception):
    """Several employees of practices the person acts for have this Dezi number."""


def choose(person: DeziIdentity, linked: list[Linked]) -> tuple[Linked, Relation]:
    """The one employee a Dezi login is, with the relation it acts in: the employee with the
    person's Dezi number whose practice's URA Dezi names."""
    if not linked:
        raise Unlinked()
    fitting = [(found, r) for found in linked if (r := person.relation(found.ura)) is not None]
    if not fitting:
        raise WrongUra()
    if len(fitting) > 1:
        raise Ambiguous()
    return fitting[0]
