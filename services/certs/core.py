"""What every use case of the certificate store shares: state, events, the token checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from services.certs.metrics import CertsMetrics
from services.certs.settings import CertsSettings
from shared import actors
from shared.gate import TokenGate
from shared.outbox import EventWriter
from shared.sealing import Keyring
from shared.tokens import require_admin

Claims = dict[str, Any]


def certificate_aad(practice: str, nr: str) -> str:
    """Associated data of a sealed private key."""
    return f"certificate:{practice}:{nr}"


@dataclass
class CertsCore(EventWriter):
    settings: CertsSettings
    pool: asyncpg.Pool
    keyring: Keyring
    gate: TokenGate
    metrics: CertsMetrics

    async def admin(self, token: str, practice_id: str) -> Claims:
        """A live session of the practice's administrator: rights group 1 of its own practice,
        checked against the directory now rather than the token's claim."""
        claims = await self.gate.live_session(token)
        require_admin(claims, practice_id)
        actors.bind(claims)  # the actor of this request's events (audit trail)
        return claims
