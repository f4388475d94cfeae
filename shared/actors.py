"""Who did it (NEN 7513 / IHE ATNA ``ActiveParticipant``): the ``actor`` an event carries.

Events that record an authentication or an administrative act carry in their ``data`` an
optional ``actor`` object ``{user, rights_group, address}`` (:class:`shared.events.Actor`):
the employee who acted (None for a username that names nobody), their rights group, and the
client address of the HTTP request that caused it (the peer, or behind a proxy listed in
``TWEESTAP_TRUSTED_PROXIES`` the client it forwarded for: :func:`shared.ratelimit.client_address`).
The HTTP middleware opens a :class:`Party` per request with the address;
a use case names who acted (:func:`actor`), or an administrator check binds the token's
holder (:func:`bind`) for the use case to read (:func:`current`).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any


@dataclass
class Party:
    """The client of the HTTP request being handled, and who it proved to be."""

    address: str | None
    user: str | None = None
    rights_group: int | None = None


#: The party of the HTTP request being handled (None outside a request).
party: contextvars.ContextVar[Party | None] = contextvars.ContextVar("party", default=None)


def address() -> str | None:
    current_party = party.get()
    return current_party.address if current_party else None


def actor(user: str | None, rights_group: int | None = None) -> dict[str, Any]:
    """The ``actor`` of an event caused by the current request, done by ``user``."""
    return {"user": user, "rights_group": rights_group, "address": address()}


def bind(claims: dict[str, Any]) -> None:
    """The current request acts for this token's holder (``sub``, ``rg``)."""
    current_party = party.get()
    if current_party is None:
        return
    sub, group = claims.get("sub"), claims.get("rg")
    current_party.user = str(sub) if sub is not None else None
    current_party.rights_group = group if isinstance(group, int) else None


def of_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """The actor of a token's holder."""
    group = claims.get("rg")
    sub = claims.get("sub")
    return actor(str(sub) if sub is not None else None, group if isinstance(group, int) else None)


def current() -> dict[str, Any]:
    """The actor bound to the current request (all None outside one)."""
    current_party = party.get()
    if current_party is None:
        return actor(None)
    return actor(current_party.user, current_party.rights_group)
