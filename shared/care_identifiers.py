"""The Dutch care identifiers Tweestap links people and practices by — pure, no I/O.

- The **Dezi number** of a care professional (the UZI number: UZI register, OID
  2.16.528.1.1007.3.1): what a Dezi login says who logged in; an employee's ``dezi_number``.
- The **URA** of a care provider (UZI-register abonneenummer, OID 2.16.528.1.1007.3.3): for
  whom the professional acts; a practice's ``ura``.

Both are digits; the URA eight of them."""

from __future__ import annotations

import re
from typing import Final

DEZI_NUMBER_OID: Final = "2.16.528.1.1007.3.1"
URA_OID: Final = "2.16.528.1.1007.3.3"
#: A Dezi (UZI) number: digits (nine, as the UZI register gives them; up to 20 accepted).
DEZI_NUMBER_PATTERN: Final = r"^[0-9]{1,20}$"
#: A URA: eight digits.
URA_PATTERN: Final = r"^[0-9]{8}$"
#: The same in the directory's events, where ``""`` records "none".
DEZI_NUMBER_OR_NONE: Final = r"^([0-9]{1,20})?$"
URA_OR_NONE: Final = r"^([0-9]{8})?$"
#: A role code (RoleCodeNL, e.g. ``01.015``) as Dezi states it; at most this many are kept.
ROLE_CODE_PATTERN: Final = r"^[0-9A-Za-z][0-9A-Za-z.-]{0,19}$"
MAX_ROLES: Final = 20


def is_dezi_number(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(DEZI_NUMBER_PATTERN, value) is not None


def is_ura(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(URA_PATTERN, value) is not None


def is_role_code(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(ROLE_CODE_PATTERN, value) is not None
