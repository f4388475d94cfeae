"""E-mail over SMTP (aiosmtplib); SMTP answers classified as transient or permanent."""

from __future__ import annotations

import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr

import aiosmtplib

from services.notifier.domain.delivery import DeliveryError, permanent, transient
from services.notifier.rendering import Rendered
from services.notifier.settings import NotifierSettings


def build_message(
    sender: str, sender_name: str, recipient: str, rendered: Rendered, request_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender))
    message["To"] = recipient
    message["Subject"] = rendered.subject
    # Deterministic: a message sent twice (the at-least-once corner) carries the same id.
    message["Message-ID"] = f"<{request_id}@{Address(addr_spec=sender).domain}>"
    message["X-Tweestap-Request"] = request_id
    message.set_content(rendered.text)
    if rendered.html:
        message.add_alternative(rendered.html, subtype="html")
    return message


class SmtpSender:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        # Fixed once: otherwise aiosmtplib resolves the FQDN (a DNS lookup) for every message.
        self.local_hostname = settings.smtp_local_hostname or socket.gethostname()

    async def send(self, message: EmailMessage, envelope_from: str) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                sender=s.smtp_envelope_from or envelope_from,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                tls_context=ssl.create_default_context() if s.smtp_security != "none" else None,
                timeout=s.send_timeout_seconds,
                local_hostname=self.local_hostname,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise _by_code(min(codes), "recipient refused") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, exc.message) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise transient("smtp-unavailable", type(exc).__name__) from None


def _by_code(code: int, text: str) -> DeliveryError:
    if 400 <= code < 500:
        return transient(f"smtp-{code}", text[:200])
    return permanent(f"smtp-{code}", text[:200])
