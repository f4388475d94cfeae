"""Mail in tests: a real SMTP server (aiosmtpd, started by the ``smtp_sink`` fixture) keeping
what it accepts, and the plain text of a message."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from tests.support.cluster import wait_for


@dataclass
class Inbox:
    """A real SMTP server (aiosmtpd) keeping every message it accepts, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    async def wait(self, address: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """The messages to ``address`` once there are at least ``count``."""

        async def arrived() -> list[EmailMessage]:
            found = self.to(address)
            return found if len(found) >= count else []

        return await wait_for(arrived, timeout)


@dataclass
class SmtpSink:
    inbox: Inbox
    port: int


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())
