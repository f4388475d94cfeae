"""The notifier: no API of its own beyond the probes; it works from ``notify.requests``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.notifier.adapters import repository as repo
from services.notifier.adapters.email import SmtpSender
from services.notifier.adapters.sms import PROVIDERS
from services.notifier.handlers import Notifier
from services.notifier.metrics import NotifierMetrics
from services.notifier.rendering import Templates
from services.notifier.settings import NotifierSettings
from shared.consumer import EventConsumer
from shared.events import Envelope, PracticeUpserted
from shared.http import RUNTIME, create_service_app
from shared.sealing import Keyring
from shared.topics import DIRECTORY_PRACTICES, NOTIFY_DLQ, NOTIFY_REQUESTS

NOTIFIER = web.AppKey("notifier", Notifier)
MIGRATIONS = Path(__file__).parent / "migrations"


async def on_practice(conn: asyncpg.Connection, event: Envelope) -> None:
    if event.type == "practice.upserted":
        await repo.upsert_practice(
            conn, event.practice, PracticeUpserted.model_validate(event.data)
        )


def create_app(settings: NotifierSettings) -> web.Application:
    metrics = NotifierMetrics(settings.zone)
    app = create_service_app(settings, (), MIGRATIONS, metrics)

    async def notifier_ctx(app: web.Application) -> AsyncIterator[None]:
        rt = app[RUNTIME]
        sms = PROVIDERS[settings.sms_provider](settings)
        notifier = Notifier(
            settings,
            rt.pool,
            Keyring.parse(settings.sealing_keys.get_secret_value()),
            Templates(),
            SmtpSender(settings),
            sms,
            metrics,
        )
        app[NOTIFIER] = notifier
        directory = EventConsumer(
            settings, rt.pool, metrics, "notifier-directory", {DIRECTORY_PRACTICES: on_practice}
        )
        requests = EventConsumer(
            settings,
            rt.pool,
            metrics,
            "notifier-requests",
            {NOTIFY_REQUESTS: notifier.accept},
            group=settings.shared_group("requests"),
            dead_letter_topic=NOTIFY_DLQ,
            on_committed=notifier.wake_up,
        )
        rt.spawn(directory.run, "directory-consumer", directory.not_ready)
        rt.spawn(requests.run, "requests-consumer", requests.not_ready)
        rt.spawn(notifier.run, "dispatcher")
        try:
            yield
        finally:
            await sms.close()

    app.cleanup_ctx.append(notifier_ctx)
    return app
