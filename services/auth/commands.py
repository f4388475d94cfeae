"""Auth's commands, run outside a running service: ``tweestap bootstrap`` (the first practice
and administrator) and ``tweestap client add|list|remove`` (relying services that may
introspect tokens). Run in one zone: what they write reaches the other zone over the bus once
that zone's auth runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.auth.bootstrap import build_clients, offline
from services.auth.http import MIGRATIONS
from services.auth.settings import AuthSettings
from services.auth.use_cases.clients import Clients
from shared.db import create_pool, migrate_service
from shared.sealing import Keyring


async def bootstrap_practice(
    settings: AuthSettings,
    practice: str,
    name: str,
    username: str,
    admin_name: str,
    password: str,
    email: str | None = None,
) -> str:
    """``tweestap bootstrap``: the administrator's employee id."""
    await migrate_service(settings, settings.service, MIGRATIONS)
    async with offline(settings) as (_, auth):
        return await auth.first_practice.create(
            practice, name, username, admin_name, password, email
        )


@asynccontextmanager
async def open_clients(settings: AuthSettings) -> AsyncIterator[Clients]:
    await migrate_service(settings, settings.service, MIGRATIONS)
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        yield build_clients(settings, pool, Keyring.parse(settings.sealing_keys.get_secret_value()))
    finally:
        await pool.close()


async def run(
    settings: AuthSettings,
    action: str,
    client_id: str | None,
    name: str | None,
    reactivate: bool = False,
) -> str:
    """What ``tweestap client`` prints. ``add`` prints the secret: this once, never again; it
    refuses a removed client unless ``reactivate`` (Problem ``client-removed``)."""
    async with open_clients(settings) as clients:
        if action == "list":
            return "\n".join(
                f"{c.client_id}\t{c.name}\t{c.updated_at.isoformat()}"
                for c in await clients.active()
            )
        assert client_id is not None  # the parser requires it for add and remove
        if action == "add":
            secret = await clients.add(client_id, name or client_id, reactivate=reactivate)
            done = "reactivated" if reactivate else "registered"
            return f"client {client_id}: {done}\nclient_secret (shown once): {secret}"
        await clients.remove(client_id)
        return f"client {client_id}: removed"
