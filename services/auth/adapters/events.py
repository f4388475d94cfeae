"""Auth's event writer: events stamped with the service as their source, queued in the caller's
transaction (the outbox), or handed as outbox rows to the statement that writes them with its
own change (a login's completion)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.domain import tokens
from services.auth.settings import AuthSettings
from shared.events import Envelope
from shared.outbox import EventWriter, OutboxRow, outbox_row, publish
from shared.topics import Topic


@dataclass(frozen=True)
class Events(EventWriter):
    settings: AuthSettings

    def outgoing(
        self,
        topic: Topic,
        type_: str,
        practice: str,
        subject: str,
        data: dict[str, Any],
        now: datetime,
    ) -> tuple[Topic, Envelope]:
        """An event for ``topic`` that a later statement queues."""
        return topic, self.event(type_, practice, subject, data, now)

    def row(self, topic: Topic, event: Envelope) -> OutboxRow:
        """The outbox row of ``event``, for a statement that inserts it with its own write."""
        return outbox_row(self.settings, topic, event)

    async def queue(self, conn: asyncpg.Connection, topic: Topic, event: Envelope) -> None:
        """Queue an event already made, in the caller's transaction."""
        await publish(conn, self.settings, topic, event)

    def token(
        self, kind: str, session: tokens.Session, grant: tokens.Grant, now: datetime
    ) -> Envelope:
        """``token.issued``, ``token.renewed``: which session, which token, how it counts."""
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
