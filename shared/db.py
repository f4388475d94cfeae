"""asyncpg pool and the migration runner (versioned SQL files, applied at start and by
``tweestap migrate``).

Two database roles (DESIGN §5, NEN 7513): the tables' owner (``TWEESTAP_DATABASE_OWNER_URL``)
migrates, grants the service's own role (``TWEESTAP_DATABASE_URL``) what the service may do,
and purges the audit trail; the service's role serves requests and cannot change an
append-only table (``append_only_tables``). Without an owner URL one role does both."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg

if TYPE_CHECKING:
    from shared.settings import Settings

log = logging.getLogger(__name__)
_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 7_510_419  # advisory lock serialising migrators of one database
#: Said at start when the role that serves requests owns the tables (or may act as their
#: owner): nothing in the database then stops the service from changing the audit trail.
ONE_ROLE_WARNING = (
    "the service's database role owns its tables (TWEESTAP_DATABASE_OWNER_URL unset, the same "
    "role, a superuser or a member of the owner): the audit trail is not protected against "
    "this service's own role, which could update, delete or truncate records or disable "
    "their append-only trigger"
)


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


#: The tables of the replicated read models (:mod:`shared.replicas`), one folder per part.
REPLICA_MIGRATIONS = Path(__file__).parent / "replicas" / "migrations"


@dataclass(frozen=True)
class Migrations:
    """A service's migrations: the parts of the replicated read model it keeps (``keys``,
    ``revocations``, ``factors``: their tables come from the parts' own migrations, applied
    before the service's) and its own folder."""

    folder: Path
    parts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [p for p in self.parts if not (REPLICA_MIGRATIONS / p).is_dir()]
        if unknown:
            raise ValueError(f"no such replicated part: {unknown}")

    def sources(self, component: str) -> list[tuple[str, Path]]:
        """(component, folder) in the order they apply: the shared tables, the parts, the
        service's own."""
        parts = [(f"replica.{p}", REPLICA_MIGRATIONS / p) for p in self.parts]
        return [("shared", SHARED_MIGRATIONS), *parts, (component, self.folder)]


def _migrations(folder: Path) -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION.match(path.name)
        if not match:
            raise ValueError(f"migration file name not NNN_name.sql: {path}")
        found.append((int(match.group(1)), match.group(2), path))
    return found


async def migrate(
    dsn: str, component: str, folder: Path | Migrations, service_role: str | None = None
) -> list[str]:
    """Apply the shared migrations, then the replicated parts' and ``folder``'s (a folder, or
    a service's :class:`Migrations`), each once, each in its own transaction;
    then, given the ``service_role`` (the role the service serves requests as, not ``dsn``'s),
    grant it what the service may do (:func:`_grant`).

    Returns the names applied now. Concurrent migrators of one database wait for each other.
    A database that is up to date needs no privilege beyond reading ``schema_migrations``.
    """
    applied_now: list[str] = []
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       component text NOT NULL, version int NOT NULL, name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (component, version))"""
            )
        migrations = folder if isinstance(folder, Migrations) else Migrations(folder)
        for comp, path in migrations.sources(component):
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
        if service_role is not None:
            await _grant(conn, service_role)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        await conn.close()
    return applied_now


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _grant(conn: asyncpg.Connection, role: str) -> None:
    """``role`` reads and writes every table and uses every sequence of the schema, now and
    (default privileges) those its owner makes later; it only reads ``schema_migrations``,
    and only reads and adds to the append-only tables. Not their owner, it can neither ALTER
    (disable a trigger), DROP nor TRUNCATE a table. One transaction: no moment in which an
    append-only table is writable."""
    protected = await conn.fetchval(
        """SELECT NOT (r.rolsuper OR pg_has_role(r.oid, current_user, 'MEMBER'))
           FROM pg_roles r WHERE r.rolname = $1""",
        role,
    )
    if not protected:
        log.warning(ONE_ROLE_WARNING)
        return
    who = _identifier(role)
    schema = _identifier(await conn.fetchval("SELECT current_schema()"))
    append_only = [
        _identifier(r["name"])
        for r in await conn.fetch(
            "SELECT name FROM append_only_tables WHERE to_regclass(quote_ident(name)) IS NOT NULL"
            " ORDER BY name"
        )
    ]
    async with conn.transaction():
        await conn.execute(
            f"""GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who};
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who};
                ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {who};
                ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}
                    GRANT USAGE, SELECT ON SEQUENCES TO {who};
                REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM {who};"""  # noqa: S608 (quoted identifiers)
        )
        for table in append_only:
            await conn.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {who}")


async def role_of(dsn: str) -> str:
    """The role ``dsn`` logs in as (asked of the server: a URL may leave the user to libpq's
    defaults, ``PGUSER`` or the operating system's user)."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT current_user"))
    finally:
        await conn.close()


async def migrate_service(
    settings: Settings, component: str, folder: Path | Migrations
) -> list[str]:
    """:func:`migrate` for a service: as the tables' owner (``database_owner_url``), granting
    ``database_url``'s role what the service may do; without an owner URL, as
    ``database_url``'s role alone, with :data:`ONE_ROLE_WARNING`."""
    if not settings.database_owner_url:
        log.warning(ONE_ROLE_WARNING)
        return await migrate(settings.database_url, component, folder)
    role = await role_of(settings.database_url)
    return await migrate(settings.database_owner_url, component, folder, service_role=role)


@asynccontextmanager
async def owner_connection(
    settings: Settings, pool: asyncpg.Pool
) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the tables' owner: a connection of its own on ``database_owner_url``,
    or (one role) one of ``pool``'s."""
    if not settings.database_owner_url:
        async with pool.acquire() as pooled:
            yield pooled
        return
    conn: asyncpg.Connection = await asyncpg.connect(settings.database_owner_url)
    try:
        yield conn
    finally:
        await conn.close()


async def ensure_database(dsn: str, service_role: str | None = None) -> None:
    """Create the database named in ``dsn`` if it does not exist, and the login role
    ``service_role`` (without a password: for a server that trusts its unix socket) if given
    and missing (dev and tests; ``dsn``'s role must be allowed to create both)."""
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
        if service_role is not None and not await conn.fetchval(
            "SELECT 1 FROM pg_roles WHERE rolname = $1", service_role
        ):
            # One role per cluster, made once; a concurrent creator's is as good.
            with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                await conn.execute(f"CREATE ROLE {_identifier(service_role)} LOGIN")
    finally:
        await conn.close()
