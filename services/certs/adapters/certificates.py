"""SQL of the certificates and their expiry notices. Every function takes the caller's
connection."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from shared.events import CertificateUpserted
from shared.merge import Record
from shared.merged_rows import MergedTable


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


#: Certificates, merged field by field: a removal or a grant survives a concurrent change of
#: another field in the other zone; ``grants`` merges per employee (a revocation survives a
#: concurrent grant to another employee). ``sealed_key`` is local (never replicated).
CERTIFICATES = MergedTable(
    "certificates",
    ("practice", "nr"),
    tuple(sorted(CertificateUpserted.merged_fields())),
    sets=frozenset(CertificateUpserted.set_fields),
)


async def upsert_certificate(
    conn: asyncpg.Connection,
    practice: str,
    ev: CertificateUpserted,
    sealed_key: str | None = None,
) -> bool:
    """Merge a certificate's state into the one held; True if anything changed. A sealed key
    is kept unless one is given; a removed certificate loses it."""

    def key(merged: Record, row: asyncpg.Record | None) -> dict[str, Any]:
        if merged.values["removed"]:
            return {"sealed_key": None}
        return {"sealed_key": sealed_key or (row["sealed_key"] if row is not None else None)}

    return await CERTIFICATES.upsert(conn, (practice, ev.nr), CERTIFICATES.state_of(ev), key)


async def certificate_state(conn: asyncpg.Connection, practice_id: str, nr: str) -> Record | None:
    """The stored state with its per-field stamps (for a writer: :func:`shared.merge.edit`)."""
    return await CERTIFICATES.load(conn, (practice_id, nr))


async def lock_practice(conn: asyncpg.Connection, practice_id: str) -> None:
    """Serialise this zone's imports into one practice (the duplicate check)."""
    await conn.execute("SELECT pg_advisory_xact_lock(7510431, hashtext($1))", practice_id)


async def live_with_fingerprint(
    conn: asyncpg.Connection, practice_id: str, fingerprint: str
) -> str | None:
    """The number of the practice's certificate (not removed) with this fingerprint, if any."""
    nr: str | None = await conn.fetchval(
        "SELECT nr FROM certificates WHERE practice = $1 AND fingerprint = $2 AND NOT removed",
        practice_id,
        fingerprint,
    )
    return nr


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
    return status.endswith(" 1")
