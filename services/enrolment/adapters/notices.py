"""Notification requests of the enrolment service (e-mail and SMS through the notifier), queued
in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.enrolment.domain.records import Employee, Practice
from services.enrolment.settings import EnrolmentSettings
from shared.events import Channel
from shared.notify import local_time, notify_request, request_notification
from shared.sealing import Keyring


@dataclass
class Notices:
    settings: EnrolmentSettings
    keyring: Keyring

    async def send(
        self,
        conn: asyncpg.Connection,
        practice: str,
        subject: str,
        channel: Channel,
        template: str,
        recipient: str,
        parameters: dict[str, str | int],
        secrets: dict[str, str] | None = None,
    ) -> None:
        """Queue a message; ``secrets`` (codes) are sealed for the notifier."""
        envelope = notify_request(
            self.settings,
            self.keyring,
            practice,
            subject,
            channel,
            template,
            recipient,
            parameters,
            secrets,
        )
        await request_notification(conn, self.settings, envelope)

    def mail_time(self, at: datetime) -> str:
        """A time as e-mails show it: ``23-11-2026 09:12`` in the configured time zone."""
        return local_time(at, self.settings.mail_time_zone, "%d-%m-%Y %H:%M")

    async def factor_changed(
        self,
        conn: asyncpg.Connection,
        practice: Practice | None,
        employee: Employee,
        change: str,
        now: datetime,
    ) -> None:
        """Every factor change is e-mailed to the employee (someone else may have made it)."""
        if not employee.email:
            return
        await self.send(
            conn,
            employee.practice,
            employee.id,
            "email",
            "factor_changed",
            employee.email,
            {
                "employee_name": employee.name,
                "practice_name": practice.name if practice else employee.practice,
                "change": change,
                "changed_at": self.mail_time(now),
            },
        )
