"""Who may call the store: the practice's administrator, with a live session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import actors
from shared.gate import TokenGate
from shared.tokens import require_admin

Claims = dict[str, Any]


@dataclass(frozen=True)
class AdminCheck:
    gate: TokenGate

    async def __call__(self, token: str, practice_id: str) -> Claims:
        """A live session of the practice's administrator: rights group 1 of its own practice,
        checked against the directory now rather than the token's claim."""
        claims = await self.gate.live_session(token)
        require_admin(claims, practice_id)
        actors.bind(claims)  # the actor of this request's events (audit trail)
        return claims
