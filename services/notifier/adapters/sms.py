"""SMS providers. Adding a real provider is one module with a class of this shape, registered
in :data:`PROVIDERS`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import aiohttp

from services.notifier.domain.delivery import permanent, transient
from services.notifier.settings import NotifierSettings


class SmsProvider(Protocol):
    async def send(self, to: str, text: str, reference: str) -> None:
        """Deliver or raise DeliveryError (transient or permanent)."""

    async def close(self) -> None: ...


class HttpGateway:
    """A JSON-over-HTTP gateway: ``POST {to, from, text, reference}`` (field names and constant
    fields configurable) with a configurable auth header. 2xx delivered; 429 and 5xx retried;
    other 4xx permanent."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=settings.send_timeout_seconds)
        )
        self.headers: dict[str, str] = {}
        if settings.sms_auth_header:
            name, _, value = settings.sms_auth_header.get_secret_value().partition(":")
            self.headers[name.strip()] = value.strip()

    async def send(self, to: str, text: str, reference: str) -> None:
        ours = {"to": to, "from": self.settings.sms_sender, "text": text, "reference": reference}
        names = self.settings.sms_body_fields
        body = {**self.settings.sms_extra_fields, **{names.get(k, k): v for k, v in ours.items()}}
        try:
            async with self.session.post(
                self.settings.sms_url, json=body, headers=self.headers
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transient("gateway-unavailable", type(exc).__name__) from None
        if status < 300:
            return
        if status == 429 or status >= 500:
            raise transient(f"gateway-{status}", "gateway failed, will retry")
        raise permanent(f"gateway-{status}", "gateway refused the message")

    async def close(self) -> None:
        await self.session.close()


PROVIDERS: dict[str, Callable[[NotifierSettings], SmsProvider]] = {"http": HttpGateway}
