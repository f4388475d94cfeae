"""The other zone's client registrations, applied (last writer wins). Kafka's entry point for
them, kept here for :mod:`services.auth.consumers` (its only user); the state's sealed form is
in :mod:`services.auth.adapters.clients`, registering a client in
:mod:`services.auth.use_cases.clients`."""

from __future__ import annotations

import asyncpg
from pydantic import ValidationError

from services.auth.adapters import clients as repo
from shared.consumer import Handler, InvalidEvent
from shared.events import Envelope
from shared.sealing import Keyring


def on_client(keyring: Keyring) -> Handler:
    """Apply a client's state from either zone (last writer wins)."""

    async def handle(conn: asyncpg.Connection, event: Envelope) -> None:
        try:
            body = repo.ClientPublished.model_validate(event.data)
        except ValidationError:
            raise InvalidEvent("client.upserted: malformed") from None
        await repo.upsert(conn, repo.open_sealed(keyring, body))

    return handle
