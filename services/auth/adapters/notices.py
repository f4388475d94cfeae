"""E-mail and SMS through the notifier: a request (its secrets sealed for the notifier) queued in
the caller's transaction, or handed to the statement that completes a login."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.auth.settings import AuthSettings
from shared.events import Channel, Envelope
from shared.notify import notify_request, request_notification
from shared.sealing import Keyring
from shared.topics import NOTIFY_REQUESTS, Topic


@dataclass(frozen=True)
class Notices:
    settings: AuthSettings
    keyring: Keyring

    def request(
        self,
        practice: str,
        employee: str,
        channel: Channel,
        template: str,
        recipient: str,
        parameters: Mapping[str, str | int],
        now: datetime,
        secrets: Mapping[str, str] | None = None,
    ) -> tuple[Topic, Envelope]:
        """The request on ``notify.requests``, for a later statement to queue."""
        envelope = notify_request(
            self.settings,
            self.keyring,
            practice,
            employee,
            channel,
            template,
            recipient,
            parameters,
            secrets,
            now=now,
        )
        return NOTIFY_REQUESTS, envelope

    async def queue(self, conn: asyncpg.Connection, request: tuple[Topic, Envelope]) -> None:
        """Queue a :meth:`request` in the caller's transaction."""
        _, envelope = request
        await request_notification(conn, self.settings, envelope)
