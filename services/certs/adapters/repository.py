"""SQL of the certificate store. Every function takes the caller's connection."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import asyncpg

from shared.events import CertificateUpserted, EmployeeUpserted, PracticeUpserted

_HOUR = timedelta(hours=1)


def _applied(status: str) -> bool:
    return status.endswith(" 1")


async def upsert_practice(conn: asyncpg.Connection, practice: str, ev: PracticeUpserted) -> bool:
    status: str = await conn.execute(
        """INSERT INTO practices AS p
              (id, name, email, two_factor_required, version, updated_at, zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
              two_factor_required = EXCLUDED.two_factor_required,
              version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, zone = EXCLUDED.zone
            WHERE (p.version, p.updated_at, p.zone)
                < (EXCLUDED.version, EXCLUDED.updated_at, EXCLUDED.zone)""",
        practice,
        ev.name,
        ev.email,
        ev.two_factor_required,
        ev.version,
        ev.updated_at,
        ev.zone,
    )
    return _applied(status)


async def upsert_employee(conn: asyncpg.Connection, practice: str, ev: EmployeeUpserted) -> bool:
    status: str = await conn.execute(
        """INSERT INTO employees AS e (practice, id, name, rights_group, in_service, version,
              updated_at, zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (practice, id) DO UPDATE SET name = EXCLUDED.name,
              rights_group = EXCLUDED.rights_group, in_service = EXCLUDED.in_service,
              version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, zone = EXCLUDED.zone
            WHERE (e.version, e.updated_at, e.zone)
                < (EXCLUDED.version, EXCLUDED.updated_at, EXCLUDED.zone)""",
        practice,
        ev.employee,
        ev.name,
        ev.rights_group,
        ev.in_service,
        ev.version,
        ev.updated_at,
        ev.zone,
    )
    return _applied(status)


async def practice(conn: asyncpg.Connection, practice_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, name, email FROM practices WHERE id = $1", practice_id
    )
    return row


async def employee(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, in_service FROM employees WHERE practice = $1 AND id = $2",
        practice_id,
        employee_id,
    )
    return row


# -- certificates -------------------------------------------------------------------------------


def to_event(row: asyncpg.Record) -> CertificateUpserted:
    def _list(value: object) -> list[str]:
        loaded = json.loads(value) if isinstance(value, str) else value
        assert isinstance(loaded, list)
        return [str(v) for v in loaded]

    return CertificateUpserted(
        nr=row["nr"],
        fingerprint=row["fingerprint"],
        certificate_pem=row["certificate_pem"],
        subject=row["subject"],
        issuer=row["issuer"],
        serial_number=row["serial_number"],
        not_before=row["not_before"],
        not_after=row["not_after"],
        kind=row["kind"],
        type=row["type"],
        services=_list(row["services"]),
        agb_code=row["agb_code"],
        grants=_list(row["grants"]),
        removed=row["removed"],
        version=row["version"],
        updated_at=row["updated_at"],
        zone=row["zone"],
    )


async def upsert_certificate(
    conn: asyncpg.Connection,
    practice: str,
    ev: CertificateUpserted,
    sealed_key: str | None = None,
) -> bool:
    """Apply a certificate's state if newer (last writer wins). A sealed key is kept unless
    one is given; a removed certificate loses it."""
    status: str = await conn.execute(
        """INSERT INTO certificates AS c (practice, nr, fingerprint, certificate_pem, subject,
              issuer, serial_number, not_before, not_after, kind, type, services, agb_code,
              grants, removed, sealed_key, version, updated_at, zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
              CASE WHEN $15 THEN NULL ELSE $16 END, $17, $18, $19)
            ON CONFLICT (practice, nr) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
              certificate_pem = EXCLUDED.certificate_pem, subject = EXCLUDED.subject,
              issuer = EXCLUDED.issuer, serial_number = EXCLUDED.serial_number,
              not_before = EXCLUDED.not_before, not_after = EXCLUDED.not_after,
              kind = EXCLUDED.kind, type = EXCLUDED.type, services = EXCLUDED.services,
              agb_code = EXCLUDED.agb_code, grants = EXCLUDED.grants, removed = EXCLUDED.removed,
              sealed_key = CASE WHEN EXCLUDED.removed THEN NULL
                                ELSE coalesce(EXCLUDED.sealed_key, c.sealed_key) END,
              version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, zone = EXCLUDED.zone
            WHERE (c.version, c.updated_at, c.zone)
                < (EXCLUDED.version, EXCLUDED.updated_at, EXCLUDED.zone)""",
        practice,
        ev.nr,
        ev.fingerprint,
        ev.certificate_pem,
        ev.subject,
        ev.issuer,
        ev.serial_number,
        ev.not_before,
        ev.not_after,
        ev.kind,
        ev.type,
        ev.services,
        ev.agb_code,
        ev.grants,
        ev.removed,
        sealed_key,
        ev.version,
        ev.updated_at,
        ev.zone,
    )
    return _applied(status)


async def lock_practice(conn: asyncpg.Connection, practice_id: str) -> None:
    """Serialise this zone's imports into one practice (the duplicate check)."""
    await conn.execute("SELECT pg_advisory_xact_lock(7510431, hashtext($1))", practice_id)


async def has_fingerprint(conn: asyncpg.Connection, practice_id: str, fingerprint: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM certificates "
        "WHERE practice = $1 AND fingerprint = $2 AND NOT removed)",
        practice_id,
        fingerprint,
    )
    return found


_ONE = "SELECT * FROM certificates WHERE practice = $1 AND nr = $2 AND NOT removed"
_ONE_LOCKED = _ONE + " FOR UPDATE"


async def certificate(
    conn: asyncpg.Connection, practice_id: str, nr: str, lock: bool = False
) -> asyncpg.Record | None:
    query = _ONE_LOCKED if lock else _ONE
    row: asyncpg.Record | None = await conn.fetchrow(query, practice_id, nr)
    return row


async def certificates(conn: asyncpg.Connection, practice_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM certificates WHERE practice = $1 AND NOT removed ORDER BY not_after, nr",
        practice_id,
    )
    return rows


async def live_certificates(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every certificate not removed, with its practice's name and e-mail address."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT c.*, p.name AS practice_name, p.email AS practice_email
           FROM certificates c LEFT JOIN practices p ON p.id = c.practice
           WHERE NOT c.removed ORDER BY c.practice, c.nr"""
    )
    return rows


async def notices(conn: asyncpg.Connection, practice_id: str, nr: str) -> list[int]:
    rows = await conn.fetch(
        "SELECT threshold FROM expiry_notices WHERE practice = $1 AND nr = $2", practice_id, nr
    )
    return [int(r["threshold"]) for r in rows]


async def add_notice(
    conn: asyncpg.Connection, practice_id: str, nr: str, threshold: int, at: datetime
) -> bool:
    status: str = await conn.execute(
        "INSERT INTO expiry_notices (practice, nr, threshold, queued_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING",
        practice_id,
        nr,
        threshold,
        at,
    )
    return _applied(status)


async def housekeeping(conn: asyncpg.Connection, now: datetime, inbox_before: datetime) -> None:
    await conn.execute("DELETE FROM revocations WHERE session_expires_at < $1", now - _HOUR)
    await conn.execute("DELETE FROM inbox WHERE processed_at < $1", inbox_before)
