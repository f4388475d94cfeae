"""Sending: one attempt at one claimed message — check the recipient and its rate limit, open
the sealed parameters, render the template and hand the result to SMTP or the SMS gateway; or,
for a back-channel logout, open the token and POST it to the client (no rate limit: when many
sessions of one application end at once, every logout must reach it).

A failed attempt raises :class:`DeliveryError`, transient or permanent; what follows from it
is for :mod:`services.notifier.use_cases.outcomes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.notifier.adapters import repository as repo
from services.notifier.adapters.backchannel import BackchannelClient
from services.notifier.adapters.email import SmtpSender, build_message
from services.notifier.adapters.sms import SmsProvider
from services.notifier.domain.delivery import RateLimit, check_recipient, permanent, transient
from services.notifier.domain.message import Message
from services.notifier.rendering import Rendered, Templates
from shared.events import LOGOUT_TOKEN, notify_aad, utcnow
from shared.sealing import Keyring, SealingError


@dataclass(frozen=True)
class Sending:
    pool: asyncpg.Pool
    limit: RateLimit
    keyring: Keyring
    templates: Templates
    smtp: SmtpSender
    sms: SmsProvider
    backchannel: BackchannelClient

    async def attempt(self, message: Message) -> None:
        check_recipient(message.channel, message.recipient)
        if message.channel == "backchannel":
            await self._logout(message)
            return
        recent, sender = await self._look_up(message)
        if not self.limit.allows(recent):
            raise permanent("rate-limited", "too many messages to this recipient")
        params = {**message.parameters, **self._unseal(message)}
        rendered = self.templates.render(message.channel, message.template, message.locale, params)
        if message.channel == "sms":
            await self.sms.send(message.recipient, rendered.text, str(message.request_id))
        else:
            await self._email(message, sender, rendered)

    async def _look_up(self, message: Message) -> tuple[int, repo.Sender | None]:
        """The messages that count against this one's rate limit, and (for e-mail) the
        practice that sends it."""
        async with self.pool.acquire() as conn:
            recent = await repo.recent_to(
                conn,
                message.recipient,
                self.limit.since(utcnow()),
                message.request_id,
                message.requested_at,
            )
            if message.channel != "email":
                return recent, None
            return recent, await repo.practice_sender(conn, message.practice)

    async def _logout(self, message: Message) -> None:
        token = self._unseal(message).get(LOGOUT_TOKEN)
        if not token:
            raise permanent("sealed-parameter", f"no {LOGOUT_TOKEN}")
        await self.backchannel.send(message.recipient, token, str(message.request_id))

    def _unseal(self, message: Message) -> dict[str, str]:
        opened = {}
        for name, sealed in message.sealed.items():
            try:
                aad = notify_aad(message.practice, message.request_id, name)
                opened[name] = self.keyring.open(sealed, aad).decode()
            except SealingError:
                raise permanent("sealed-parameter", f"{name} does not open") from None
        return opened

    async def _email(
        self, message: Message, sender: repo.Sender | None, rendered: Rendered
    ) -> None:
        if sender is None:
            # The practice may not have reached this zone yet: worth waiting for.
            raise transient("practice-unknown", "the practice is not known (yet)")
        if not sender.email:
            # Its address may be on its way (another topic than this request): worth waiting
            # for, within the retry policy.
            raise transient("practice-email-missing", "the practice has no e-mail address")
        reference = str(message.request_id)
        email = build_message(sender.email, sender.name, message.recipient, rendered, reference)
        await self.smtp.send(email, sender.email)
