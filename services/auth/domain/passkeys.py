"""Passkeys at login — pure, no I/O: a stored passkey as the sealed factor says it, which one
an assertion names, and the counter an assertion must exceed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredPasskey:
    factor: str
    credential_id: str
    public_key: str
    sign_count: int
    transports: tuple[str, ...]
    name: str

    @classmethod
    def from_sealed(cls, factor: str, body: Mapping[str, Any]) -> StoredPasskey:
        """From the opened ``sealed`` of a ``passkey`` factor (shape in shared.events)."""
        return cls(
            factor=factor,
            credential_id=str(body["credential_id"]),
            public_key=str(body["public_key"]),
            sign_count=int(body.get("sign_count", 0)),
            transports=tuple(str(t) for t in body.get("transports", ())),
            name=str(body.get("name", "")),
        )


def named(passkeys: Iterable[StoredPasskey], credential_id: str) -> StoredPasskey | None:
    """The employee's passkey whose credential id the assertion names (base64url, unpadded)."""
    wanted = credential_id.rstrip("=")
    return next((p for p in passkeys if p.credential_id.rstrip("=") == wanted), None)


def current_count(registered: int, accepted_here: int | None) -> int:
    """The counter an assertion must exceed: the higher of the one registered and the highest
    this zone accepted (each zone keeps its own; in either it only goes forward)."""
    return max(registered, accepted_here or 0)
