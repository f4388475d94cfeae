"""Who may call a use case: the token checks every entry point of the service makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.enrolment.domain import enrolment as steps
from services.enrolment.settings import EnrolmentSettings
from shared.events import utcnow
from shared.gate import TokenGate
from shared.problems import Problem, forbidden
from shared.tokens import FALLBACK_AAL, TWO_FACTOR_AAL, aal_of

Claims = dict[str, Any]
TWO_FACTOR_AALS = frozenset({TWO_FACTOR_AAL, FALLBACK_AAL})


@dataclass
class Access:
    settings: EnrolmentSettings
    gate: TokenGate

    async def session(self, token: str, two_factor: bool = False) -> Claims:
        """Claims of a live session token; with ``two_factor``, only a two-factor session
        (``aal2``, ``aal2-fallback``)."""
        claims = await self.gate.live_session(token)
        if two_factor and aal_of(claims) not in TWO_FACTOR_AALS:
            raise forbidden("This needs a session that logged in with two factors.")
        return claims

    async def factor_change(self, token: str) -> Claims:
        """Claims of a live session that may change its own factors: a two-factor login (not
        a certificate fallback) at most ``factor_change_max_age_seconds`` ago."""
        claims = await self.gate.live_session(token)
        max_age = self.settings.factor_change_max_age_seconds
        if not recent_strong_login(claims, utcnow(), timedelta(seconds=max_age)):
            raise Problem(
                403,
                "reauthentication-required",
                "Log in again to change your sign-in methods",
                f"Changing your sign-in methods needs a login with your password and a second "
                f"factor (not a certificate) in the last {max_age // 60} minutes: log in again "
                "and repeat this within that time.",
                max_age_seconds=max_age,
            )
        return claims

    async def admin(self, token: str, practice_id: str) -> Claims:
        """A live session of the practice's administrator (:meth:`TokenGate.administrator`)."""
        return await self.gate.administrator(token, practice_id)

    async def wizard(self, token: str) -> tuple[Claims, steps.Access]:
        """Claims of a token that may use the wizard: an enrolment token, or a session that
        logged in with a recovery code a short while ago."""
        claims = await self.gate.signed_subject_claims(token)
        window = timedelta(seconds=self.settings.recovery_reenrol_seconds)
        access = steps.wizard_access(claims, utcnow(), window)
        if access is None:
            raise forbidden(
                "The wizard needs an enrolment token, or a session that just logged in with "
                "a recovery code."
            )
        await self.gate.live_state(claims)
        return claims, access


def recent_strong_login(claims: Claims, now: datetime, max_age: timedelta) -> bool:
    """Whether the session logged in with two factors (``aal2``; a fallback is ``aal2-fallback``)
    no longer than ``max_age`` before ``now``."""
    started = claims.get("auth_time")
    if aal_of(claims) != TWO_FACTOR_AAL or not isinstance(started, int | float):
        return False
    return now - datetime.fromtimestamp(started, tz=UTC) <= max_age
