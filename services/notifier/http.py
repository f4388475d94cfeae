"""The notifier's app: no HTTP API of its own beyond the probes, metrics and OpenAPI every
service has; its work comes from ``notify.requests`` (:mod:`services.notifier.consumers`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.notifier.bootstrap import compose
from services.notifier.metrics import NotifierMetrics
from services.notifier.settings import NotifierSettings
from shared.db import Migrations
from shared.http import RUNTIME, create_service_app

MIGRATIONS = Migrations(Path(__file__).parent / "migrations")


def create_app(settings: NotifierSettings) -> web.Application:
    metrics = NotifierMetrics(settings.zone)
    app = create_service_app(settings, (), MIGRATIONS, metrics)

    async def notifier_ctx(app: web.Application) -> AsyncIterator[None]:
        rt = app[RUNTIME]
        notifier = compose(settings, rt.pool, metrics)
        rt.spawn(notifier.directory.run, "directory-consumer", notifier.directory.not_ready)
        rt.spawn(notifier.requests.run, "requests-consumer", notifier.requests.not_ready)
        rt.spawn(notifier.delivering.run, "dispatcher")
        rt.spawn(notifier.housekeeping.run, "housekeeping")
        try:
            yield
        finally:
            await notifier.close()

    app.cleanup_ctx.append(notifier_ctx)
    return app
