"""PostgreSQL access of the enrolment service. Every function takes the caller's connection,
so the caller decides the transaction (state and outbox rows commit together)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.enrolment.domain.passkey import Registration
from services.enrolment.domain.readiness import Person
from services.enrolment.domain.records import Employee, Enrolment, Factor, PendingFactor, Practice
from shared.replicas import directory
from shared.replicas.counters import ZoneCounter
from shared.usernames import normalise_username

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


def _applied(status: str) -> bool:
    return status.endswith(" 1")


# -- directory --------------------------------------------------------------------------------


#: The directory as enrolment keeps it (:mod:`shared.replicas.directory`): the practices'
#: settings and everything of an employee the wizard checks. An upsert without ``bsn_hash``
#: keeps the stored hash (host systems cannot compute it).
EMPLOYEES = directory.employees(
    (
        "username",
        "name",
        "birth_date",
        "email",
        "phone",
        "bsn_hash",
        "rights_group",
        "in_service",
        "dezi_number",
    ),
    optional=("bsn_hash", "dezi_number"),
)
DIRECTORY = directory.Directory(directory.practices(), EMPLOYEES)
PRACTICES = DIRECTORY.practices
upsert_practice, upsert_employee = DIRECTORY.upsert_practice, DIRECTORY.upsert_employee


def _practice(row: asyncpg.Record) -> Practice:
    return Practice(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        two_factor_required=row["two_factor_required"],
        policy=directory.policy_of(row),
        assurance=directory.assurance_of(row),
        ura=row["ura"] or None,
        version=row["version"],
        updated_at=row["updated_at"],
    )


def _employee(row: asyncpg.Record) -> Employee:
    return Employee(
        practice=row["practice"],
        id=row["id"],
        username=row["username"],
        name=row["name"],
        birth_date=row["birth_date"],
        email=row["email"],
        phone=row["phone"],
        bsn_hash=row["bsn_hash"],
        rights_group=row["rights_group"],
        in_service=row["in_service"],
        dezi_number=row["dezi_number"] or None,
        version=row["version"],
        updated_at=row["updated_at"],
    )


async def practice(
    conn: asyncpg.Connection, practice_id: str, for_update: bool = False
) -> Practice | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM practices WHERE id = $1{lock}", practice_id)  # noqa: S608
    return _practice(row) if row else None


async def employee(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, for_update: bool = False
) -> Employee | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT * FROM employees WHERE practice = $1 AND id = $2{lock}",  # noqa: S608
        practice_id,
        employee_id,
    )
    return _employee(row) if row else None


async def employees(conn: asyncpg.Connection, practice_id: str) -> list[Employee]:
    rows = await conn.fetch(
        "SELECT * FROM employees WHERE practice = $1 ORDER BY lower(username)", practice_id
    )
    return [_employee(r) for r in rows]


async def username_taken(
    conn: asyncpg.Connection, practice_id: str, username: str, employee_id: str
) -> bool:
    """Whether another employee of the practice has the same username key (NFKC, case-folded:
    :func:`normalise_username`; PostgreSQL cannot fold case, and a practice is small)."""
    key = normalise_username(username)
    others = await conn.fetch(
        "SELECT username FROM employees WHERE practice = $1 AND id <> $2",
        practice_id,
        employee_id,
    )
    return any(normalise_username(r["username"]) == key for r in others)


async def dezi_number_taken(
    conn: asyncpg.Connection, practice_id: str, dezi_number: str, employee_id: str
) -> bool:
    """Whether another employee of the practice has ``dezi_number``; the caller's transaction
    holds a lock on the number in the practice until it ends (two administrators giving it
    to two employees at once: the second waits, then sees the first)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('dezi_number'), hashtext($1 || ':' || $2))",
        practice_id,
        dezi_number,
    )
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM employees WHERE practice = $1 AND dezi_number = $2"
        " AND id <> $3)",
        practice_id,
        dezi_number,
        employee_id,
    )
    return found


async def people(conn: asyncpg.Connection, practice_id: str) -> list[Person]:
    """Every employee of the practice with whether they have an active strong factor."""
    rows = await conn.fetch(
        """SELECT e.*, EXISTS (SELECT 1 FROM factors f
                                WHERE f.practice = e.practice AND f.employee = e.id
                                  AND f.active AND f.kind = 'totp') AS strong
           FROM employees e WHERE e.practice = $1 ORDER BY lower(e.username)""",
        practice_id,
    )
    return [_employee(r).person(r["strong"]) for r in rows]


# -- factors ----------------------------------------------------------------------------------


async def factor_kinds(conn: asyncpg.Connection, practice_id: str) -> dict[str, list[str]]:
    """Each employee's kinds of active factors."""
    rows = await conn.fetch(
        "SELECT employee, array_agg(DISTINCT kind) AS kinds FROM factors "
        "WHERE practice = $1 AND active GROUP BY employee",
        practice_id,
    )
    return {r["employee"]: list(r["kinds"]) for r in rows}


async def activations_waiting(
    conn: asyncpg.Connection, practice_id: str, now: datetime
) -> dict[str, datetime]:
    """Until when each employee's e-mailed activation code that still waits for its use is
    valid (an enrolment in state ``sent``, not expired)."""
    rows = await conn.fetch(
        "SELECT employee, max(expires_at) AS until FROM enrolments "
        "WHERE practice = $1 AND state = 'sent' AND expires_at > $2 GROUP BY employee",
        practice_id,
        now,
    )
    return {r["employee"]: r["until"] for r in rows}


def _factor(row: asyncpg.Record) -> Factor:
    return Factor(
        practice=row["practice"],
        id=row["id"],
        employee=row["employee"],
        kind=row["kind"],
        sealed=row["sealed"],
        active=row["active"],
        created_at=row["created_at"],
        confirmed_step=row["confirmed_step"],
        version=row["version"],
    )


async def active_factors(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> list[Factor]:
    rows = await conn.fetch(
        "SELECT * FROM factors WHERE practice = $1 AND employee = $2 AND active "
        "ORDER BY created_at, id",
        practice_id,
        employee_id,
    )
    return [_factor(r) for r in rows]


async def factor_owner(conn: asyncpg.Connection, practice_id: str, factor_id: str) -> str | None:
    """The employee a factor of the practice belongs to (active or not), if it exists."""
    owner: str | None = await conn.fetchval(
        "SELECT employee FROM factors WHERE practice = $1 AND id = $2", practice_id, factor_id
    )
    return owner


async def lock_employee_factors(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> None:
    """Serialise factor changes of one employee (transaction-level advisory lock)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7510430))",
        f"{practice_id}:{employee_id}",
    )


# -- the wizard -------------------------------------------------------------------------------


def _enrolment(row: asyncpg.Record) -> Enrolment:
    return Enrolment(
        id=row["id"],
        practice=row["practice"],
        employee=row["employee"],
        login_id=row["login_id"],
        code_hash=row["code_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        state=row["state"],
        confirm_failures=row["confirm_failures"],
        sealed_secret=row["sealed_secret"],
    )


#: Failed identity checks per employee, every zone's, with a reset (a passed check, a
#: deactivation): :mod:`shared.replicas.counters`.
IDENTITY = ZoneCounter("identity_failures", "identity_resets", "employee")


async def is_blocked(conn: asyncpg.Connection, practice_id: str, employee_id: str) -> bool:
    """Whether the employee's enrolment is blocked (in either zone) since the latest reset."""
    blocked: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM enrolment_blocks b "  # noqa: S608 - names from code
        f"WHERE b.practice = $1 AND b.employee = $2 AND {IDENTITY.since_reset('b.blocked_at')})",
        practice_id,
        employee_id,
    )
    return blocked


async def add_identity_failure(
    conn: asyncpg.Connection,
    event_id: Any,
    practice_id: str,
    employee_id: str,
    at: datetime,
    zone: str,
) -> None:
    await IDENTITY.add(conn, event_id, practice_id, employee_id, at, zone)


async def identity_failures(conn: asyncpg.Connection, practice_id: str, employee_id: str) -> int:
    """Failed identity checks of the employee (every zone's) since the latest reset."""
    return await IDENTITY.count(conn, practice_id, employee_id)


async def add_block(
    conn: asyncpg.Connection,
    event_id: Any,
    practice_id: str,
    employee_id: str,
    blocked_at: datetime,
    zone: str,
) -> None:
    await conn.execute(
        "INSERT INTO enrolment_blocks (event_id, practice, employee, blocked_at, zone) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        event_id,
        practice_id,
        employee_id,
        blocked_at,
        zone,
    )


async def reset_identity(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, at: datetime
) -> None:
    """Failures and blocks up to ``at`` no longer count (and failures are forgotten)."""
    await IDENTITY.reset(conn, practice_id, employee_id, at)


async def enrolments_since(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, since: datetime
) -> list[datetime]:
    """When the employee's enrolments (activation codes sent) since ``since`` were made."""
    rows = await conn.fetch(
        "SELECT created_at FROM enrolments WHERE practice = $1 AND employee = $2 "
        "AND created_at > $3 ORDER BY created_at",
        practice_id,
        employee_id,
        since,
    )
    return [r["created_at"] for r in rows]


async def waiting_enrolment(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> str | None:
    """The employee's enrolment whose activation code waits for its use (state ``sent``), if
    any: the latest."""
    found: str | None = await conn.fetchval(
        "SELECT id FROM enrolments WHERE practice = $1 AND employee = $2 AND state = 'sent' "
        "ORDER BY created_at DESC LIMIT 1",
        practice_id,
        employee_id,
    )
    return found


async def replace_code(
    conn: asyncpg.Connection, enrolment_id: str, code_hash: str, expires_at: datetime
) -> None:
    """A waiting enrolment's activation code replaced (the old one no longer works)."""
    await conn.execute(
        "UPDATE enrolments SET code_hash = $2, expires_at = $3 WHERE id = $1 AND state = 'sent'",
        enrolment_id,
        code_hash,
        expires_at,
    )


async def void_open_enrolments(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, now: datetime
) -> int:
    status: str = await conn.execute(
        "UPDATE enrolments SET state = 'void', finished_at = $3 "
        "WHERE practice = $1 AND employee = $2 AND state IN ('sent', 'identified')",
        practice_id,
        employee_id,
        now,
    )
    return int(status.split()[-1])


async def void_unfinished_enrolments(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, now: datetime
) -> None:
    """Void the employee's open and blocked enrolments (the administrator's deactivation)."""
    await conn.execute(
        "UPDATE enrolments SET state = 'void', finished_at = $3 WHERE practice = $1 "
        "AND employee = $2 AND state IN ('sent', 'identified', 'blocked')",
        practice_id,
        employee_id,
        now,
    )


async def create_enrolment(
    conn: asyncpg.Connection,
    enrolment_id: str,
    practice_id: str,
    employee_id: str,
    login_id: str,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO enrolments (id, practice, employee, login_id, code_hash, created_at, "
        "expires_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'sent')",
        enrolment_id,
        practice_id,
        employee_id,
        login_id,
        code_hash,
        now,
        expires_at,
    )


async def take_enrolment(
    conn: asyncpg.Connection, enrolment_id: str, practice_id: str, employee_id: str
) -> Enrolment | None:
    """The employee's enrolment, locked for this transaction; None if it is not theirs."""
    row = await conn.fetchrow(
        "SELECT * FROM enrolments WHERE id = $1 AND practice = $2 AND employee = $3 FOR UPDATE",
        enrolment_id,
        practice_id,
        employee_id,
    )
    return _enrolment(row) if row else None


async def block_enrolment(conn: asyncpg.Connection, enrolment_id: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE enrolments SET state = 'blocked', blocked_at = $2 WHERE id = $1",
        enrolment_id,
        at,
    )


async def identified(
    conn: asyncpg.Connection,
    enrolment_id: str,
    sealed_secret: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "UPDATE enrolments SET state = 'identified', sealed_secret = $2, identified_at = $3, "
        "expires_at = $4 WHERE id = $1",
        enrolment_id,
        sealed_secret,
        now,
        expires_at,
    )


async def confirm_failed(
    conn: asyncpg.Connection, enrolment_id: str, failures: int, void_at: datetime | None
) -> None:
    await conn.execute(
        "UPDATE enrolments SET confirm_failures = $2, "
        "state = CASE WHEN $3::timestamptz IS NULL THEN state ELSE 'void' END, "
        "finished_at = $3 WHERE id = $1",
        enrolment_id,
        failures,
        void_at,
    )


async def finish_enrolment(
    conn: asyncpg.Connection, enrolment_id: str, factor_id: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE enrolments SET state = 'done', finished_at = $3, factor_id = $2, "
        "sealed_secret = NULL WHERE id = $1",
        enrolment_id,
        factor_id,
        now,
    )


# -- pending SMS/e-mail factors ---------------------------------------------------------------


def _pending(row: asyncpg.Record) -> PendingFactor:
    return PendingFactor(**{k: row[k] for k in PendingFactor.__dataclass_fields__})


async def pending_since(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, since: datetime
) -> list[datetime]:
    rows = await conn.fetch(
        "SELECT created_at FROM pending_factors WHERE practice = $1 AND employee = $2 "
        "AND created_at > $3 ORDER BY created_at",
        practice_id,
        employee_id,
        since,
    )
    return [r["created_at"] for r in rows]


async def add_pending(conn: asyncpg.Connection, pending: PendingFactor) -> None:
    """Store a pending factor; earlier pending ones of that kind for the employee are void."""
    await conn.execute(
        "UPDATE pending_factors SET state = 'void' WHERE practice = $1 AND employee = $2 "
        "AND kind = $3 AND state = 'pending'",
        pending.practice,
        pending.employee,
        pending.kind,
    )
    await conn.execute(
        "INSERT INTO pending_factors (id, practice, employee, kind, sealed, sealed_code, "
        "sent_to, created_at, expires_at, attempts, state) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        *(getattr(pending, k) for k in PendingFactor.__dataclass_fields__),
    )


async def take_pending(
    conn: asyncpg.Connection, factor_id: str, practice_id: str, employee_id: str
) -> PendingFactor | None:
    row = await conn.fetchrow(
        "SELECT * FROM pending_factors WHERE id = $1 AND practice = $2 AND employee = $3 "
        "FOR UPDATE",
        factor_id,
        practice_id,
        employee_id,
    )
    return _pending(row) if row else None


async def update_pending(
    conn: asyncpg.Connection, factor_id: str, attempts: int, state: str
) -> None:
    await conn.execute(
        "UPDATE pending_factors SET attempts = $2, state = $3 WHERE id = $1",
        factor_id,
        attempts,
        state,
    )


async def void_pending(conn: asyncpg.Connection, practice_id: str, employee_id: str) -> None:
    await conn.execute(
        "UPDATE pending_factors SET state = 'void' WHERE practice = $1 AND employee = $2 "
        "AND state = 'pending'",
        practice_id,
        employee_id,
    )


# -- passkey registrations --------------------------------------------------------------------


async def add_passkey_registration(
    conn: asyncpg.Connection,
    registration_id: str,
    practice_id: str,
    employee_id: str,
    challenge: bytes,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO passkey_registrations (id, practice, employee, challenge, created_at, "
        "expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        registration_id,
        practice_id,
        employee_id,
        challenge,
        now,
        expires_at,
    )


async def spend_passkey_registration(
    conn: asyncpg.Connection,
    registration_id: str,
    practice_id: str,
    employee_id: str,
    now: datetime,
) -> Registration | None:
    """Mark the employee's registration used (once: the loser of a race finds it used); what
    it was before, or None if the employee has no such registration."""
    row = await conn.fetchrow(
        """WITH before AS (
               SELECT id, challenge, expires_at, used_at IS NOT NULL AS used
               FROM passkey_registrations
               WHERE id = $1 AND practice = $2 AND employee = $3 FOR UPDATE),
           spent AS (
               UPDATE passkey_registrations r SET used_at = $4 FROM before
               WHERE r.id = before.id AND NOT before.used RETURNING r.id)
           SELECT challenge, expires_at, used FROM before""",
        registration_id,
        practice_id,
        employee_id,
        now,
    )
    return Registration(row["challenge"], row["expires_at"], row["used"]) if row else None


# -- keys and sessions ------------------------------------------------------------------------


async def housekeeping(conn: asyncpg.Connection, now: datetime, inbox_before: datetime) -> None:
    """Forget what can no longer matter: revocations of ended sessions, finished wizard rows
    older than a day, pending factors and passkey registrations long expired, inbox ids past
    the topics' retention."""
    await conn.execute("DELETE FROM revocations WHERE session_expires_at < $1", now - _HOUR)
    await conn.execute(
        "DELETE FROM enrolments WHERE state IN ('done', 'void') AND finished_at < $1", now - _DAY
    )
    await conn.execute("DELETE FROM pending_factors WHERE expires_at < $1", now - _DAY)
    await conn.execute("DELETE FROM passkey_registrations WHERE expires_at < $1", now - _DAY)
    await conn.execute("DELETE FROM inbox WHERE processed_at < $1", inbox_before)
