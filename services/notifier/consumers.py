"""Kafka entry points of the notifier: the practices (names and sender addresses) from
``directory.practices``, and the requests from ``notify.requests`` into the delivery queue."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from services.notifier.adapters import repository as repo
from services.notifier.metrics import NotifierMetrics
from services.notifier.settings import NotifierSettings
from services.notifier.use_cases.receiving import receive
from shared.consumer import EventConsumer
from shared.events import Envelope, PracticeUpserted
from shared.topics import DIRECTORY_PRACTICES, NOTIFY_DLQ, NOTIFY_REQUESTS


async def on_practice(conn: asyncpg.Connection, event: Envelope) -> None:
    if event.type == "practice.upserted":
        await repo.upsert_practice(
            conn, event.practice, PracticeUpserted.model_validate(event.data)
        )


def directory(
    settings: NotifierSettings, pool: asyncpg.Pool, metrics: NotifierMetrics
) -> EventConsumer:
    """Every notifier reads every practice (its own group)."""
    return EventConsumer(
        settings, pool, metrics, "notifier-directory", {DIRECTORY_PRACTICES: on_practice}
    )


def requests(
    settings: NotifierSettings,
    pool: asyncpg.Pool,
    metrics: NotifierMetrics,
    on_committed: Callable[[], None],
) -> EventConsumer:
    """One group across zones, so that each request is received by one notifier; a request
    that cannot be received is also announced on ``notify.dlq``. ``on_committed`` wakes the
    worker once the queued message is visible."""
    return EventConsumer(
        settings,
        pool,
        metrics,
        "notifier-requests",
        {NOTIFY_REQUESTS: receive},
        group=settings.shared_group("requests"),
        dead_letter_topic=NOTIFY_DLQ,
        on_committed=on_committed,
    )
