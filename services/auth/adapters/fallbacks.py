"""PostgreSQL access for the certificate fallback login: the certificates replicated from
``certs.events``, the nonces handed out and the uses counted per employee. Every function takes
the caller's connection (the caller decides the transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.auth.domain.fallback import FallbackCertificate
from shared.events import CertificateUpserted
from shared.merged_rows import MergedTable

#: The public parts of certificates, merged field by field (a removal or a grant survives a
#: concurrent change of another field) and ``grants`` employee by employee. ``signing_key``
#: follows ``certificate_pem``.
CERTIFICATES = MergedTable(
    "certificates",
    ("practice", "nr"),
    (
        "fingerprint",
        "certificate_pem",
        "subject",
        "not_before",
        "not_after",
        "type",
        "grants",
        "removed",
        "signing_key",
    ),
    sets=frozenset({"grants"}),  # per employee: a revocation survives a concurrent grant
)


async def upsert_certificate(
    conn: asyncpg.Connection, practice: str, ev: CertificateUpserted, signing_key: bool
) -> bool:
    """Merge a certificate's state (per field, last writer wins by version, time, zone);
    ``signing_key``: its key can sign the fallback's nonce."""
    stamps = ev.field_stamps()
    pem = stamps.get("certificate_pem", ev.stamp)
    state = CERTIFICATES.incoming(
        {**ev.values(), "signing_key": signing_key}, ev.stamp, {**stamps, "signing_key": pem}
    )
    return await CERTIFICATES.upsert(conn, (practice, ev.nr), state)


def _certificate(row: asyncpg.Record) -> FallbackCertificate:
    return FallbackCertificate(
        nr=row["nr"],
        fingerprint=row["fingerprint"],
        certificate_pem=row["certificate_pem"],
        subject=row["subject"],
        not_before=row["not_before"],
        not_after=row["not_after"],
        type=row["type"],
        grants=tuple(row["grants"]),
        removed=row["removed"],
        signing_key=row["signing_key"],
    )


async def usable_certificates(
    conn: asyncpg.Connection, practice: str, employee: str, now: datetime
) -> list[FallbackCertificate]:
    """The certificates the employee may use for the fallback now, newest expiry first."""
    rows = await conn.fetch(
        "SELECT nr, fingerprint, certificate_pem, subject, not_before, not_after, type, grants, "
        "removed, signing_key FROM certificates c "
        "WHERE c.practice = $1 AND fallback_usable(c, $2, $3) ORDER BY c.not_after DESC, c.nr",
        practice,
        employee,
        now,
    )
    return [_certificate(r) for r in rows]


async def has_usable_certificate(
    conn: asyncpg.Connection, practice: str, employee: str, now: datetime
) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM certificates c "
        "WHERE c.practice = $1 AND fallback_usable(c, $2, $3))",
        practice,
        employee,
        now,
    )
    return found


async def certificate(
    conn: asyncpg.Connection, practice: str, reference: str
) -> FallbackCertificate | None:
    """The practice's certificate by ``nr`` or fingerprint (a removed one too: the caller says
    why it is refused)."""
    row = await conn.fetchrow(
        """SELECT nr, fingerprint, certificate_pem, subject, not_before, not_after, type, grants,
                  removed, signing_key FROM certificates
            WHERE practice = $1 AND (nr = $2 OR fingerprint = $2)
            ORDER BY removed, updated_at DESC LIMIT 1""",
        practice,
        reference,
    )
    return _certificate(row) if row is not None else None


async def add_challenge(
    conn: asyncpg.Connection,
    login_id: str,
    nonce: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO fallback_challenges (id, login_id, nonce, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        uuid.uuid4(),
        login_id,
        nonce,
        now,
        expires_at,
    )


async def take_challenge(conn: asyncpg.Connection, login_id: str) -> asyncpg.Record | None:
    """The newest nonce of the login, spent by this call (whatever the signature turns out to
    be: a nonce is good for one try); None if there is none. The caller checks ``used``
    (spent before) and ``expires_at``."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """WITH newest AS (
               SELECT id, used FROM fallback_challenges WHERE login_id = $1
               ORDER BY created_at DESC LIMIT 1 FOR UPDATE)
           UPDATE fallback_challenges f SET used = true FROM newest
           WHERE f.id = newest.id
           RETURNING f.nonce, f.expires_at, newest.used""",
        login_id,
    )
    return row


async def lock_uses(conn: asyncpg.Connection, practice: str, employee: str) -> None:
    """Serialise this zone's fallback logins of one employee (the limit is counted)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"fallback:{practice}:{employee}",
    )


async def uses_since(
    conn: asyncpg.Connection, practice: str, employee: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many fallback logins the employee made after ``since`` (in any zone, as far as
    known here), and the oldest of them."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, min(at) AS oldest FROM fallback_uses "
        "WHERE practice = $1 AND employee = $2 AND at > $3",
        practice,
        employee,
        since,
    )
    return int(row["n"]), row["oldest"]


async def add_use(
    conn: asyncpg.Connection,
    use_id: uuid.UUID,
    practice: str,
    employee: str,
    certificate_nr: str,
    at: datetime,
    zone: str,
) -> None:
    await conn.execute(
        "INSERT INTO fallback_uses (id, practice, employee, certificate, at, zone) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        use_id,
        practice,
        employee,
        certificate_nr,
        at,
        zone,
    )


async def practice_email(conn: asyncpg.Connection, practice: str) -> str | None:
    """Where the practice administrator is told of fallback logins."""
    email: str | None = await conn.fetchval("SELECT email FROM practices WHERE id = $1", practice)
    return email
