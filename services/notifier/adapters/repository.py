"""PostgreSQL access of the notifier: practices (sender addresses) and the delivery queue."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from services.notifier.domain.message import Message
from shared.events import NotifyRequest
from shared.replicas import directory

#: The practices' names and sender addresses (:mod:`shared.replicas.directory`); no employees,
#: no sessions.
DIRECTORY = directory.Directory(directory.practices(("name", "email")), cutoffs=False)


async def enqueue(
    conn: asyncpg.Connection,
    request_id: uuid.UUID,
    practice: str,
    request: NotifyRequest,
    requested_at: datetime,
    now: datetime,
) -> bool:
    """Queue a request once; False if this request id is already known."""
    status: str = await conn.execute(
        """INSERT INTO messages (request_id, practice, channel, template, locale, recipient,
             parameters, sealed, requested_at, status, next_attempt_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $10)
           ON CONFLICT (request_id) DO NOTHING""",
        request_id,
        practice,
        request.channel,
        request.template,
        request.locale,
        request.recipient,
        request.parameters,
        request.sealed,
        requested_at,
        now,
    )
    return status.endswith(" 1")


class Sender(NamedTuple):
    """A practice as the sender of its e-mail."""

    name: str
    email: str | None


async def claim_due(
    conn: asyncpg.Connection | asyncpg.Pool,
    now: datetime,
    lease_until: datetime,
    limit: int,
    backchannel: bool = False,
) -> list[Message]:
    """Record the next attempt of due messages durably, before sending: status ``sending``
    with a lease. A message whose lease ran out (its sender died) is due again. Back-channel
    logouts (``backchannel``) and e-mail and SMS are claimed apart, each with its own limit."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """UPDATE messages SET status = 'sending', attempts = attempts + 1,
                  lease_until = $2, updated_at = $1
           WHERE request_id IN (
               SELECT request_id FROM messages
               WHERE ((status = 'queued' AND next_attempt_at <= $1)
                      OR (status = 'sending' AND lease_until < $1))
                 AND (channel = 'backchannel') = $4
               ORDER BY next_attempt_at LIMIT $3
               FOR UPDATE SKIP LOCKED)
           RETURNING *""",
        now,
        lease_until,
        limit,
        backchannel,
    )
    return [_message(row) for row in rows]


def _message(row: asyncpg.Record) -> Message:
    return Message(
        request_id=row["request_id"],
        practice=row["practice"],
        channel=row["channel"],
        template=row["template"],
        locale=row["locale"],
        recipient=row["recipient"],
        parameters=_json(row["parameters"]),
        sealed=_json(row["sealed"]),
        requested_at=row["requested_at"],
        attempts=row["attempts"],
    )


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        loaded: dict[str, Any] = json.loads(value)
        return loaded
    return dict(value)


async def recent_to(
    conn: asyncpg.Connection,
    recipient: str,
    since: datetime,
    request_id: uuid.UUID,
    requested_at: datetime,
) -> int:
    """Messages to ``recipient`` that count against this one: delivered within the window, or
    being sent and requested before it (so a burst claimed at once is limited in order)."""
    count: int = await conn.fetchval(
        """SELECT count(*) FROM messages
           WHERE recipient = $1 AND request_id <> $3
             AND ((status = 'delivered' AND updated_at >= $2)
                  OR (status = 'sending' AND (requested_at, request_id) < ($4, $3)))""",
        recipient,
        since,
        request_id,
        requested_at,
    )
    return count


async def practice_sender(conn: asyncpg.Connection, practice: str) -> Sender | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT name, email FROM practices WHERE id = $1", practice
    )
    return Sender(row["name"], row["email"]) if row else None


async def mark_delivered(conn: asyncpg.Connection, request_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE messages SET status = 'delivered', delivered_at = $2, updated_at = $2, "
        "lease_until = NULL, last_error = NULL WHERE request_id = $1",
        request_id,
        now,
    )


async def mark_retry(
    conn: asyncpg.Connection, request_id: uuid.UUID, now: datetime, at: datetime, error: str
) -> None:
    await conn.execute(
        "UPDATE messages SET status = 'queued', next_attempt_at = $3, updated_at = $2, "
        "lease_until = NULL, last_error = $4 WHERE request_id = $1",
        request_id,
        now,
        at,
        error,
    )


async def mark_failed(
    conn: asyncpg.Connection, request_id: uuid.UUID, now: datetime, error: str
) -> None:
    await conn.execute(
        "UPDATE messages SET status = 'failed', updated_at = $2, lease_until = NULL, "
        "last_error = $3 WHERE request_id = $1",
        request_id,
        now,
        error,
    )


async def count_waiting(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """Messages not yet delivered or given up on."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')"
    )
    return count


async def forget_before(conn: asyncpg.Connection, before: datetime) -> None:
    """Delete finished messages (recipients are personal data), inbox ids and dead letters
    older than ``before``."""
    await conn.execute(
        "DELETE FROM messages WHERE status IN ('delivered', 'failed') AND updated_at < $1",
        before,
    )
    await conn.execute("DELETE FROM inbox WHERE processed_at < $1", before)
    await conn.execute("DELETE FROM dead_letters WHERE received_at < $1", before)
