"""The other zone's grants (``oidc.granted``, ``oidc.refreshed`` on ``auth.events``): its
codes spent, its grants and their refresh generations. The same code redeemed in both zones
within the replication lag, or the same refresh generation rotated in both, shows here as a
conflict: both grants end (one of the two presenters was not the application)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from services.auth.adapters import oidc_store as store
from shared import replicas
from shared.events import Envelope, SessionRevoked, utcnow
from shared.outbox import EventWriter


def handler(writer: EventWriter) -> Callable[[asyncpg.Connection, Envelope], Awaitable[None]]:
    async def end(conn: asyncpg.Connection, event: Envelope, grant: store.GrantRow) -> None:
        now = utcnow()
        body = SessionRevoked(
            sid=grant.sid,
            employee=event.subject,
            revoked_at=now,
            session_expires_at=grant.session_expires_at,
            reason="token_reused",
        )
        await replicas.revoke_session(writer, conn, body, event.practice, now)

    async def on_granted(conn: asyncpg.Connection, event: Envelope) -> None:
        body = store.Granted.model_validate(event.data)
        grant = body.grant
        earlier = await store.spend_code(
            conn,
            body.code_id,
            grant.sid,
            event.practice,
            event.subject,
            event.time,
            body.code_expires_at,
            event.zone,
        )
        await store.insert_grant(conn, event.practice, event.subject, grant, event.time)
        if earlier is not None and earlier != grant.sid:
            await end(conn, event, grant)
            await end(conn, event, grant.model_copy(update={"sid": earlier}))

    async def on_refreshed(conn: asyncpg.Connection, event: Envelope) -> None:
        grant = store.GrantRow.model_validate(event.data.get("grant"))
        stored = await store.current(conn, grant.sid)
        if stored is None:
            await store.insert_grant(conn, event.practice, event.subject, grant, event.time)
        elif grant.generation == stored.generation and grant.token_id != stored.token_id:
            await end(conn, event, grant)
        else:
            await store.advance(conn, grant.sid, grant.generation, grant.token_id, event.time)

    async def apply(conn: asyncpg.Connection, event: Envelope) -> None:
        if event.type == store.GRANTED:
            await on_granted(conn, event)
        elif event.type == store.REFRESHED:
            await on_refreshed(conn, event)

    return apply
