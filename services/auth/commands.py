"""Auth's commands, run outside a running service: ``tweestap bootstrap`` (the first practice
and administrator) and ``tweestap client add|list|remove`` (relying services that may
introspect tokens). Run in one zone: what they write reaches the other zone over the bus once
that zone's auth runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.auth.bootstrap import build_clients, offline
from services.auth.domain.clients import Registration
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
    registration: Registration | None = None,
) -> str:
    """What ``tweestap client`` prints. ``add`` prints the secret: this once, never again; it
    refuses a removed client unless ``reactivate`` (Problem ``client-removed``)."""
    async with open_clients(settings) as clients:
        if action == "list":
            return "\n".join(
                "\t".join(
                    (
                        c.client_id,
                        c.name,
                        c.auth_method,
                        c.min_level,
                        " ".join(c.redirect_uris) or "-",
                        c.updated_at.isoformat(),
                    )
                )
                for c in await clients.active()
            )
        assert client_id is not None  # the parser requires it for add and remove
        if action == "add":
            secret = await clients.register(
                client_id, name or client_id, registration or Registration(), reactivate
            )
            done = "reactivated" if reactivate else "registered"
            said = f"client {client_id}: {done}"
            if secret is None:
                how = "PKCE alone" if registration and registration.public else "private_key_jwt"
                return f"{said} (no secret: {how})"
            return f"{said}\nclient_secret (shown once): {secret}"
        await clients.remove(client_id)
        return f"client {client_id}: removed"
