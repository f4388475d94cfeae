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
from shared.directory_trust import DirectoryTrust
from shared.topics import NOTIFY_DLQ, NOTIFY_REQUESTS


def directory(
    settings: NotifierSettings, pool: asyncpg.Pool, metrics: NotifierMetrics
) -> EventConsumer:
    """Every notifier reads every practice (its own group)."""
    # No employees are kept here, so no host upsert can make an administrator: no trust.
    handlers = repo.DIRECTORY.handlers(DirectoryTrust.from_settings(settings))
    return EventConsumer(settings, pool, metrics, "notifier-directory", handlers)


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
        # A work queue: nothing is decided on what it holds, so it is never catching up (a
        # member the shared group has not yet given a partition would otherwise say so).
        keeps_state=False,
    )
