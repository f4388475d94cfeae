"""asyncpg pool and the migration runner (versioned SQL files, applied at start and by
``tweestap migrate``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 7_510_419  # advisory lock serialising migrators of one database


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on release (one round trip per acquire): pooled connections
    never keep session state here (LISTEN has its own connection, locks are per transaction)."""


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, reset=_keep_session
    )
    return pool


def _migrations(folder: Path) -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION.match(path.name)
        if not match:
            raise ValueError(f"migration file name not NNN_name.sql: {path}")
        found.append((int(match.group(1)), match.group(2), path))
    return found


async def migrate(dsn: str, component: str, folder: Path) -> list[str]:
    """Apply the shared migrations, then ``folder``'s, each once, each in its own transaction.

    Returns the names applied now. Concurrent migrators of one database wait for each other.
    """
    applied_now: list[str] = []
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL, version int NOT NULL, name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        for comp, path in (("shared", SHARED_MIGRATIONS), (component, folder)):
            done = {
                r["version"]
                for r in await conn.fetch(
                    "SELECT version FROM schema_migrations WHERE component = $1", comp
                )
            }
            for version, name, file in _migrations(path):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(file.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name) "
                        "VALUES ($1, $2, $3)",
                        comp,
                        version,
                        name,
                    )
                applied_now.append(f"{comp}/{file.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        await conn.close()
    return applied_now


async def ensure_database(dsn: str) -> None:
    """Create the database named in ``dsn`` if it does not exist (dev and tests)."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
        raise ValueError(f"unexpected database name {name!r}")
    admin_dsn = urlunsplit(parts._replace(path="/postgres"))
    conn: asyncpg.Connection = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
