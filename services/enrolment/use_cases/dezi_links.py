"""An employee links Dezi to themselves (docs/adr/0014): auth verified their Dezi login and
signed a short statement of it (``typ`` ``dezi-link+jwt``, for this service, two minutes,
naming the employee, the practice and the session); enrolment, which owns the directory,
checks it against the caller's own session and records the number as the administrator's
edit would (unique within the practice)."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from services.enrolment.api import DeziLinked, EmployeeUpdate
from services.enrolment.use_cases.access import Access
from services.enrolment.use_cases.directory import Employees
from shared.care_identifiers import is_dezi_number
from shared.gate import TokenGate
from shared.problems import Problem
from shared.tokens import InvalidToken, UnknownKey

log = logging.getLogger(__name__)
#: The statement auth signs (services/auth/use_cases/dezi.py): its type and audience.
LINK_TYPE = "dezi-link+jwt"
LINK_AUDIENCE = "tweestap-enrolment"


def _refused(detail: str) -> Problem:
    return Problem(
        403, "dezi-link-refused", "Dezi link not accepted", f"{detail} Start linking again."
    )


@dataclass(frozen=True)
class DeziLinks:
    access: Access
    gate: TokenGate
    employees: Employees

    async def link(self, token: str, assertion: str) -> DeziLinked:
        """The session's employee gets the Dezi number of ``assertion``: a live two-factor
        session that logged in recently (as for changing one's factors), and a statement
        auth signed for exactly that session; 409 ``dezi-number-taken`` when another
        employee of the practice has it."""
        claims = await self.access.factor_change(token)
        statement = await self._statement(assertion)
        mine = (claims["sub"], claims["practice"], claims["sid"])
        stated = (statement.get("sub"), statement.get("practice"), statement.get("sid"))
        if not all(
            isinstance(b, str) and hmac.compare_digest(a, b)
            for a, b in zip(mine, stated, strict=True)
        ):
            raise _refused("The statement was made for another session.")
        number = statement.get("dezi_number")
        if not is_dezi_number(number):
            raise _refused("The statement names no Dezi number.")
        assert isinstance(number, str)
        await self.employees.put_employee(
            claims, claims["practice"], claims["sub"], EmployeeUpdate(dezi_number=number)
        )
        return DeziLinked(dezi_number=number)

    async def _statement(self, assertion: str) -> dict[str, object]:
        verifier, gate = self.gate.verifier, self.gate
        for attempt in range(2):
            try:
                return verifier.signed_jwt(
                    assertion, LINK_TYPE, gate.issuer, LINK_AUDIENCE, gate.leeway_seconds
                )
            except UnknownKey:
                if attempt == 0:
                    # Another zone's new key may have reached the database before this process.
                    await gate.refresh_keys()
            except InvalidToken as error:
                log.warning("dezi link statement refused", extra={"reason": str(error)[:200]})
                break
        raise _refused("The statement of your Dezi login could not be verified.")
