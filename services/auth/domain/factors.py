"""Second factors at login — pure, no I/O: which factors a login offers (by their specs,
:mod:`shared.factor_kinds`), how an address is shown masked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared import factor_kinds
from shared.factor_kinds import STRONG


@dataclass(frozen=True)
class Factor:
    """An active factor of the employee as the second step needs it (secret still sealed)."""

    id: str
    kind: str
    sealed: str
    version: int
    confirmed_step: int | None = None


def strong_count(kinds: Iterable[str]) -> int:
    return sum(1 for kind in kinds if kind in STRONG)


def offered(kinds: Iterable[str], fallback: bool = False) -> list[str]:
    """The factor kinds a login offers, strongest first, the recovery code and then the
    certificate fallback (``fallback``: the employee holds a usable certificate and the
    practice allows it) last. Nothing without a strong factor (the login goes to enrolment),
    so SMS and e-mail never stand alone."""
    present = set(kinds)
    if not present & STRONG:
        return []
    return [
        kind
        for kind in factor_kinds.ORDER
        if kind in present or (fallback and not factor_kinds.spec(kind).enrolled)
    ]


def usable(factors: Iterable[Factor], kind: str) -> list[Factor]:
    """The employee's active factors of ``kind`` that this login accepts: SMS and e-mail only
    beside a strong factor."""
    factors = list(factors)
    needs_strong = factor_kinds.spec(kind).beside_strong if kind in factor_kinds.KINDS else False
    if needs_strong and not any(f.kind in STRONG for f in factors):
        return []
    return [f for f in factors if f.kind == kind]


def totp_step_fresh(step: int, last_used: int | None) -> bool:
    """TOTP steps only go forward per employee (privacyIDEA's rule): a step at or before the
    last used one is refused, even one never used itself (one step of drift lets the code of
    step t-1 still match after t was used)."""
    return last_used is None or step > last_used


def mask(address: str) -> str:
    """Enough of an address to recognise it: ``a***@example.nl``, ``+31******78``."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(address) <= 5:
        return "*" * len(address)
    return f"{address[:3]}{'*' * (len(address) - 5)}{address[-2:]}"


def expires_minutes(seconds: int) -> int:
    """Minutes shown in the message: whole minutes, at least one."""
    return max(1, seconds // 60)


def retry_after(oldest: datetime, window_seconds: int, now: datetime) -> int:
    """Seconds until the oldest send in the window leaves it."""
    return max(1, int((oldest - now).total_seconds()) + window_seconds + 1)


def format_time(at: datetime) -> str:
    """A time for a message to a person (templates format nothing)."""
    return at.strftime("%Y-%m-%d %H:%M UTC")
