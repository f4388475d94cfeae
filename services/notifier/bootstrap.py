"""The one place that builds the notifier's collaborators from its settings and wires them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.notifier import consumers
from services.notifier.adapters.backchannel import BackchannelClient
from services.notifier.adapters.email import SmtpSender
from services.notifier.adapters.sms import PROVIDERS, SmsProvider
from services.notifier.domain.delivery import RateLimit, RetryPolicy
from services.notifier.metrics import NotifierMetrics
from services.notifier.rendering import Templates
from services.notifier.settings import NotifierSettings
from services.notifier.use_cases.delivering import Delivering
from services.notifier.use_cases.housekeeping import Housekeeping
from services.notifier.use_cases.outcomes import Outcomes
from services.notifier.use_cases.sending import Sending
from shared.consumer import EventConsumer
from shared.sealing import Keyring


@dataclass(frozen=True)
class Notifier:
    """The notifier wired: the tasks the app runs, and the HTTP clients (SMS, back-channel
    logout) it closes at the end."""

    directory: EventConsumer
    requests: EventConsumer
    delivering: Delivering
    housekeeping: Housekeeping
    sms: SmsProvider
    backchannel: BackchannelClient

    async def close(self) -> None:
        try:
            await self.sms.close()
        finally:
            await self.backchannel.close()


def compose(settings: NotifierSettings, pool: asyncpg.Pool, metrics: NotifierMetrics) -> Notifier:
    sms = PROVIDERS[settings.sms_provider](settings)
    backchannel = BackchannelClient(settings)
    sending = Sending(
        pool,
        RateLimit(settings.rate_limit_count, timedelta(seconds=settings.rate_limit_window_seconds)),
        Keyring.parse(settings.sealing_keys.get_secret_value()),
        Templates(),
        SmtpSender(settings),
        sms,
        backchannel,
    )
    retry = RetryPolicy(
        settings.max_attempts, settings.retry_base_seconds, settings.retry_max_seconds
    )
    # The longest one attempt may take, on any channel.
    timeout = max(settings.send_timeout_seconds, settings.backchannel_timeout_seconds)
    delivering = Delivering(
        pool,
        sending,
        Outcomes(pool, settings, retry, metrics),
        metrics,
        concurrency=settings.concurrency,
        backchannel_concurrency=settings.backchannel_concurrency,
        # Three send timeouts: after that, a message whose sender died is claimed again.
        lease=timedelta(seconds=timeout * 3),
        sweep_seconds=settings.dispatch_sweep_seconds,
        grace_seconds=timeout,
    )
    return Notifier(
        directory=consumers.directory(settings, pool, metrics),
        requests=consumers.requests(settings, pool, metrics, delivering.wake_up),
        delivering=delivering,
        housekeeping=Housekeeping(pool, timedelta(days=settings.message_retention_days)),
        sms=sms,
        backchannel=backchannel,
    )
