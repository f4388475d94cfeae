"""Receiving: a notify request from the bus into the delivery queue, once per request id."""

from __future__ import annotations

import asyncpg

from services.notifier.adapters import repository as repo
from shared.events import Envelope, NotifyRequest, utcnow


async def receive(conn: asyncpg.Connection, event: Envelope) -> None:
    """Queue the request inside the consumer's inbox transaction, so that the request and its
    event id commit together; a request id already queued queues nothing. The worker is woken
    after the commit, when the row is visible."""
    request = NotifyRequest.model_validate(event.data)
    await repo.enqueue(conn, event.id, event.practice, request, event.time, utcnow())
