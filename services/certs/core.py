"""What every use case of the certificate store shares: state, events, the token checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.certs import problems
from services.certs.adapters import repository as repo
from services.certs.metrics import CertsMetrics
from services.certs.settings import CertsSettings
from shared.events import Envelope
from shared.gate import TokenGate
from shared.outbox import publish
from shared.problems import unauthorized
from shared.sealing import Keyring
from shared.tokens import SESSION_SCOPE, SINGLE_FACTOR_ACR, require_admin
from shared.topics import Topic

Claims = dict[str, Any]


def certificate_aad(practice: str, nr: str) -> str:
    """Associated data of a sealed private key."""
    return f"certificate:{practice}:{nr}"


@dataclass
class CertsCore:
    settings: CertsSettings
    pool: asyncpg.Pool
    keyring: Keyring
    gate: TokenGate
    metrics: CertsMetrics

    async def emit(
        self,
        conn: asyncpg.Connection,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
        **envelope: Any,
    ) -> Envelope:
        event = Envelope(
            type=type_,
            source=self.settings.source,
            time=now,
            practice=practice,
            subject=subject,
            data=data,
            **envelope,
        )
        await publish(conn, self.settings, topic, event)
        return event

    async def admin(self, token: str, practice_id: str) -> Claims:
        """A live session of the practice's administrator: rights group 1 of its own practice,
        checked against the directory now rather than the token's claim."""
        claims = await self.gate.claims(token)
        if not isinstance(claims.get("practice"), str) or not isinstance(claims.get("sub"), str):
            raise unauthorized("Token not accepted: no practice or subject.")
        if claims.get("scope") != SESSION_SCOPE:
            raise unauthorized("Token not accepted: not a session token.")
        async with self.pool.acquire() as conn:
            state = await repo.session_state(
                conn, claims["practice"], claims["sub"], str(claims["sid"])
            )
        if state is None or not state["in_service"] or state["revoked"]:
            raise problems.session_revoked()
        started = claims.get("auth_time")
        if not isinstance(started, int | float):
            raise unauthorized("Token not accepted: no session start.")
        cutoff = state["cutoff"]
        if cutoff is not None and datetime.fromtimestamp(started, tz=UTC) <= cutoff:
            raise problems.session_revoked()
        if state["two_factor_required"] and claims.get("acr") == SINGLE_FACTOR_ACR:
            raise problems.session_revoked()
        claims = {**claims, "rg": state["rights_group"]}
        require_admin(claims, practice_id)
        return claims
