"""The state and helpers every use case of auth shares: adapters, settings, events, failed
attempts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.adapters.hasher import Hasher
from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.signer import Signer
from services.auth.domain import lockout, tokens
from services.auth.domain.records import Credential
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared.events import (
    Envelope,
    PasswordPolicy,
    credential_aad,
)
from shared.gate import TokenGate
from shared.outbox import EventWriter
from shared.sealing import Keyring
from shared.topics import (
    AUTH_EVENTS,
    Topic,
)


@dataclass
class AuthCore(EventWriter):
    settings: AuthSettings
    pool: asyncpg.Pool
    hasher: Hasher
    signer: Signer
    keyring: Keyring
    keystore: KeyStore
    metrics: AuthMetrics
    gate: TokenGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = TokenGate(
            self.signer, self.pool, self.settings.issuer, self.settings.leeway_seconds
        )

    @property
    def lifetimes(self) -> tokens.Lifetimes:
        return tokens.Lifetimes(
            token=timedelta(seconds=self.settings.token_lifetime_seconds),
            session_max=timedelta(seconds=self.settings.session_max_seconds),
        )

    def open_credential(self, row: Mapping[str, Any]) -> Credential:
        body = json.loads(
            self.keyring.open(row["sealed"], credential_aad(row["practice"], row["employee"]))
        )
        return Credential(
            hash=body["hash"],
            history=body["history"],
            changed_at=row["changed_at"],
            must_change=row["must_change"],
            strength=row["strength"],
            version=row["version"],
        )

    async def _record_failure(
        self, practice_id: str, key: str, policy: PasswordPolicy, now: datetime
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await self._failure(conn, practice_id, key, policy, now)

    async def _failure(
        self,
        conn: asyncpg.Connection,
        practice_id: str,
        key: str,
        policy: PasswordPolicy,
        now: datetime,
        factor: str | None = None,
    ) -> None:
        """One failed attempt for the username (a wrong password or a wrong second factor,
        both count toward the same lockout), in the caller's transaction."""
        data: dict[str, Any] = {"username": key, "zone": self.settings.zone}
        if factor is not None:
            data["factor"] = factor
        event = await self.emit(
            conn, AUTH_EVENTS, "login.failed", practice_id, f"user:{key}", data, now
        )
        await repo.add_failure(conn, practice_id, key, now, self.settings.zone, event.id)
        failures, reset_at = await repo.failures(conn, practice_id, key)
        state = lockout.lock_state(failures, reset_at, policy, now)
        if state.locked(now) and state.locked_until is not None:
            self.metrics.lockouts.labels(**self.metrics.base()).inc()
            await self.emit(
                conn,
                AUTH_EVENTS,
                "account.locked",
                practice_id,
                f"user:{key}",
                {"username": key, "locked_until": state.locked_until.isoformat()},
                now,
            )

    def _event(
        self,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
    ) -> tuple[Topic, Envelope]:
        return topic, self.event(type_, practice, subject, data, now)

    def _token_event(
        self, kind: str, session: tokens.Session, grant: tokens.Grant, now: datetime
    ) -> Envelope:
        return self.event(
            kind,
            session.practice,
            session.employee,
            {
                "sid": session.sid,
                "jti": grant.claims["jti"],
                "exp": grant.claims["exp"],
                "amr": list(session.amr),
                "acr": session.acr,
            },
            now,
        )
