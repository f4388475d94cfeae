"""The enrolment wizard's rules: who may use it, when each step is refused, how failures
count. The wizard: start (activation code by e-mail) → identity (code, birth date, BSN) →
the TOTP secret → confirm (first code) → a totp factor and a recovery code.

Wrong identity checks count per employee (a new start does not reset them) in both zones; the
one that reaches the maximum blocks every enrolment of the employee until the administrator
deactivates the employee's factors; a passed check resets the count.

States of an enrolment::

    sent ──identity ok──▶ identified ──confirm ok──▶ done
     │  ╲                    │
     │   ╲ max failures      │ max wrong codes, or superseded by a new start
     │    ▼                  ▼
     │   blocked ──admin deactivation──▶ void
     └──superseded──────────────────────▶ void
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared.factor_kinds import amr_of
from shared.tokens import ENROL_SCOPE, SESSION_SCOPE, scopes

State = Literal["sent", "identified", "blocked", "done", "void"]
OPEN_STATES: tuple[State, ...] = ("sent", "identified")
#: ``amr`` value of a login whose second factor was the recovery code.
RECOVERY_AMR = amr_of("recovery")

Access = Literal["enrol", "recovery"]


def wizard_access(
    claims: dict[str, Any], now: datetime, reenrol_window: timedelta
) -> Access | None:
    """How a token may use the wizard: an enrolment token (``enrol``), or a session that
    started with a recovery code within ``reenrol_window`` (``recovery``: the employee lost
    their authenticator and enrols a new one); None: not at all."""
    scope = scopes(claims)
    if ENROL_SCOPE in scope:
        return "enrol"
    if SESSION_SCOPE in scope and RECOVERY_AMR in (claims.get("amr") or []):
        auth_time = claims.get("auth_time")
        if isinstance(auth_time, int | float):
            started = datetime.fromtimestamp(auth_time, tz=UTC)
            if now - started <= reenrol_window:
                return "recovery"
    return None


def start_refusal(missing: list[str], blocked: bool, has_totp: bool, access: Access) -> str | None:
    """Why a new enrolment may not start (a problem type), or None."""
    if missing:
        return "employee-incomplete"
    if blocked:
        return "enrolment-blocked"
    if has_totp and access != "recovery":
        return "factor-exists"
    return None


def identity_refusal(
    state: State, blocked: bool, expires_at: datetime, now: datetime
) -> str | None:
    """Why the identity step is refused before the code is even looked at, or None.
    ``blocked``: the employee's enrolment is blocked (in either zone)."""
    if state not in ("sent", "identified", "blocked"):
        return "not-found"
    if blocked or state == "blocked":
        return "enrolment-blocked"
    if now >= expires_at:
        return "activation-code-expired"
    return None


def confirm_refusal(state: State, blocked: bool, expires_at: datetime, now: datetime) -> str | None:
    """Why the confirm step is refused before the code is looked at, or None."""
    if state not in ("sent", "identified", "blocked"):
        return "not-found"
    if blocked or state == "blocked":
        return "enrolment-blocked"
    if state == "sent":
        return "identity-required"
    if now >= expires_at:
        return "enrolment-expired"
    return None


def blocks(failures: int, max_failures: int) -> bool:
    """Whether the employee's ``failures``-th wrong identity check (counted over every
    enrolment and both zones since the latest reset) blocks enrolling."""
    return failures >= max_failures


def minutes(seconds: int) -> int:
    """Whole minutes for a message ("valid for 5 minutes"), rounded up."""
    return max(1, math.ceil(seconds / 60))
