"""PostgreSQL access of the auth service. Every function takes the caller's connection, so
the caller decides the transaction (state and outbox rows commit together)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.adapters import sessions
from services.auth.domain.factors import Factor
from services.auth.domain.records import Employee, Practice
from shared import replicas
from shared.assurance import Level
from shared.events import (
    FactorCredential,
    PasswordCredential,
    stamped,
)
from shared.merge import Record, edit
from shared.outbox import FROM_JSON, OutboxRow, queued_cte, rows_json
from shared.replicas import directory
from shared.replicas.counters import ZoneCounter
from shared.usernames import normalise_username


def _username_key(merged: Record, _: asyncpg.Record | None) -> dict[str, Any]:
    return {"username_key": normalise_username(str(merged.values["username"]))}


#: The directory as auth keeps it (:mod:`shared.replicas.directory`): the practices' settings,
#: the employees' names, addresses, rights groups and status, with the normalised username,
#: and their Dezi/UZI numbers (an upsert without one keeps the stored one).
DIRECTORY = directory.Directory(
    directory.practices(),
    directory.employees(
        ("username", "name", "email", "rights_group", "in_service", "dezi_number"),
        optional=("dezi_number",),
    ),
    derive=_username_key,
)


async def upsert_credential(
    conn: asyncpg.Connection, practice: str, ev: PasswordCredential
) -> bool:
    """Apply a credential if it is newer than the one held; True if it was applied. A whole
    record: every change (a new password) writes every field, so per-field stamps would merge
    to the same result. Two states under one stamp (no honest writer makes them) are ordered
    by their values, so both zones keep the same one."""
    status: str = await conn.execute(
        """INSERT INTO credentials AS c (practice, employee, sealed, changed_at, must_change,
              strength, version, updated_at, zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (practice, employee) DO UPDATE SET sealed = EXCLUDED.sealed,
              changed_at = EXCLUDED.changed_at, must_change = EXCLUDED.must_change,
              strength = EXCLUDED.strength, version = EXCLUDED.version,
              updated_at = EXCLUDED.updated_at, zone = EXCLUDED.zone
            WHERE (c.version, c.updated_at, c.zone, c.sealed, c.changed_at, c.must_change,
                   c.strength)
                < (EXCLUDED.version, EXCLUDED.updated_at, EXCLUDED.zone, EXCLUDED.sealed,
                   EXCLUDED.changed_at, EXCLUDED.must_change, EXCLUDED.strength)""",
        practice,
        ev.employee,
        ev.sealed,
        ev.changed_at,
        ev.must_change,
        ev.strength,
        ev.version,
        ev.updated_at,
        ev.zone,
    )
    return status.endswith(" 1")


def _practice(row: asyncpg.Record) -> Practice:
    return Practice(
        id=row["id"],
        name=row["name"],
        two_factor_required=row["two_factor_required"],
        policy=directory.policy_of(row),
        assurance=directory.assurance_of(row),
    )


def _employee(row: asyncpg.Record) -> Employee:
    return Employee(
        practice=row["practice"],
        id=row["id"],
        username=row["username"],
        name=row["name"],
        rights_group=row["rights_group"],
        in_service=row["in_service"],
    )


@dataclass(frozen=True)
class LoginView:
    """Everything the password step reads, fetched in one round trip (the failures are read
    under the attempts' lock: :func:`failures`)."""

    practice: Practice | None
    employee: Employee | None
    credential: Mapping[str, Any] | None
    last_login: datetime | None
    #: Kinds of the employee's active second factors (one entry per factor).
    factor_kinds: list[str]
    #: Whether the employee holds a certificate usable for the fallback login.
    fallback: bool = False


async def session_cutoff(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> datetime | None:
    """Sessions of the employee that started at or before this are revoked."""
    before: datetime | None = await conn.fetchval(
        "SELECT before FROM session_cutoffs WHERE practice = $1 AND employee = $2",
        practice_id,
        employee_id,
    )
    return before


#: Everything the password step reads about the practice, the employee and the credential.
_LOGIN_VIEW = """SELECT p.id, p.name, p.two_factor_required, p.policy, p.assurance,
                  e.id AS employee_id, e.username, e.name AS employee_name, e.rights_group,
                  e.in_service, c.sealed, c.changed_at, c.must_change, c.strength, c.version,
                  l.at AS last_login,
                  ARRAY(SELECT x.kind FROM factors x
                        WHERE x.practice = $1 AND x.employee = e.id AND x.active) AS factor_kinds,
                  EXISTS (SELECT 1 FROM certificates x
                          WHERE x.practice = $1 AND fallback_usable(x, e.id, $3)) AS fallback
           FROM (SELECT 1) AS one
           LEFT JOIN practices p ON p.id = $1
           LEFT JOIN employees e ON e.practice = p.id AND e.username_key = $2
           LEFT JOIN credentials c ON c.practice = e.practice AND c.employee = e.id
           LEFT JOIN last_logins l ON l.practice = e.practice AND l.employee = e.id"""
#: The view, and the guess reserved against the credential it found (``reserve_attempt``).
_LOGIN_VIEW_RESERVED = (
    "SELECT v.*, r.failures, r.settled, r.reset_at FROM ("  # noqa: S608 - constants
    + _LOGIN_VIEW
    + ") AS v, reserve_attempt($1, $2, $3, $4, $5, v.changed_at) AS r"
)
#: What :func:`reserve_failure` returns: the failures, the settled ones, the latest reset.
Reserved = tuple[list[datetime], list[datetime], datetime | None]


async def login_view(
    conn: asyncpg.Connection,
    practice_id: str,
    username: str,
    now: datetime,
    zone: str,
    event_id: Any,
) -> tuple[LoginView, Reserved]:
    """The password step's view and, in the same round trip, the guess reserved as
    :func:`reserve_failure` does, against the credential the view found (none for an unknown
    username). Two round trips before."""
    row = await conn.fetchrow(_LOGIN_VIEW_RESERVED, practice_id, username, now, zone, event_id)
    practice = _practice(row) if row["id"] is not None else None
    employee = None
    if practice is not None and row["employee_id"] is not None:
        employee = Employee(
            practice=practice_id,
            id=row["employee_id"],
            username=row["username"],
            name=row["employee_name"],
            rights_group=row["rights_group"],
            in_service=row["in_service"],
        )
    credential = None
    if employee is not None and row["sealed"] is not None:
        credential = {
            "practice": practice_id,
            "employee": employee.id,
            **{k: row[k] for k in ("sealed", "changed_at", "must_change", "strength", "version")},
        }
    view = LoginView(
        practice=practice,
        employee=employee,
        credential=credential,
        last_login=row["last_login"],
        factor_kinds=list(row["factor_kinds"]) if employee is not None else [],
        fallback=bool(row["fallback"]) and employee is not None,
    )
    return view, (list(row["failures"]), list(row["settled"]), row["reset_at"])


async def renew_session(
    conn: asyncpg.Connection | asyncpg.Pool,
    practice_id: str,
    employee_id: str,
    sid: str,
    event: OutboxRow | None,
    single_factor: bool,
    auth_time: datetime,
    sso_sid: str | None = None,
) -> asyncpg.Record | None:
    """One statement, one round trip: the employee's rights group, and whether the session
    may go on (``live``: the employee in service, the session not revoked by its id, by its
    SSO session's (``sso_sid``, an application's grant) or by a cutoff at or after its
    ``auth_time``, and not a single-factor session of a practice that now requires two
    factors); with ``event``, the renewal event queued in the outbox if so."""
    args = (practice_id, employee_id, sid, single_factor, auth_time, sso_sid or sid)
    if event is None:
        row: asyncpg.Record | None = await conn.fetchrow(_RENEWAL, *args)
        return row
    row = await conn.fetchrow(_RENEWAL_QUEUED, *args, *event)
    return row


#: The session's state for a renewal ($1 practice, $2 employee, $3 sid, $4 single factor,
#: $5 auth_time, $6 the SSO session's sid or $3), as the CTE ``state``.
_RENEWAL_STATE = """WITH state AS (
       SELECT e.rights_group,
              e.in_service
              AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.sid IN ($3, $6))
              AND NOT EXISTS (SELECT 1 FROM session_cutoffs c
                              WHERE c.practice = $1 AND c.employee = $2 AND c.before >= $5)
              AND NOT (p.two_factor_required AND $4) AS live
       FROM employees e JOIN practices p ON p.id = e.practice
       WHERE e.practice = $1 AND e.id = $2)"""
_RENEWAL = _RENEWAL_STATE + " SELECT * FROM state"  # noqa: S608 - constants
#: The same, and the renewal event ($7-$10, an outbox row) queued if the session is live.
_RENEWAL_QUEUED = (
    _RENEWAL_STATE  # noqa: S608 - constants
    + ", "
    + queued_cte("SELECT $7, $8, $9, $10 FROM state WHERE live")
    + """
       -- Read, so that the NOTIFY in its RETURNING is certainly evaluated.
       SELECT s.*, (SELECT count(*) FROM queued) AS queued FROM state s"""
)


async def practice(conn: asyncpg.Connection, practice_id: str) -> Practice | None:
    row = await conn.fetchrow("SELECT * FROM practices WHERE id = $1", practice_id)
    return _practice(row) if row else None


async def employee(conn: asyncpg.Connection, practice_id: str, employee_id: str) -> Employee | None:
    row = await conn.fetchrow(
        "SELECT * FROM employees WHERE practice = $1 AND id = $2", practice_id, employee_id
    )
    return _employee(row) if row else None


async def credential_row(
    conn: asyncpg.Connection, practice_id: str, employee_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM credentials WHERE practice = $1 AND employee = $2", practice_id, employee_id
    )
    return row


async def lock_attempts(conn: asyncpg.Connection, practice_id: str, username: str) -> None:
    """Serialise the attempts of one (practice, username) in this zone until the caller's
    transaction ends (password, second factors and fallback take the same lock)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(attempt_lock_key($1, $2))", practice_id, username
    )


#: The username's ($1, $2) latest reset, as the CTE ``reset``.
#: A username's failed logins, every zone's, with a reset (a successful login):
#: :mod:`shared.replicas.counters`. (A password guess is counted pending before its verdict:
#: :func:`reserve_failure`.)
LOGIN_FAILURES = ZoneCounter("login_failures", "login_resets", "username", forgets="NOT pending")
_RESET = "reset AS (SELECT at FROM login_resets WHERE practice = $1 AND username = $2)"
#: Its failures after that reset, oldest first, as the column ``failures`` (``also``: a
#: further condition on ``f``).
_FAILURES_SINCE_RESET = """ARRAY(SELECT f.at FROM counted_failures f
                         WHERE f.practice = $1 AND f.username = $2
                           AND f.at > coalesce((SELECT at FROM reset), '-infinity') {also}
                         ORDER BY f.at) AS failures"""


async def failures(
    conn: asyncpg.Connection, practice_id: str, username: str, settled: bool = False
) -> tuple[list[datetime], datetime | None]:
    """The username's failures after its latest reset, and that reset; with ``settled`` only
    the attempts whose verdict is in (not the pending password guesses)."""
    row = await conn.fetchrow(
        f"""WITH {_RESET}
            SELECT (SELECT at FROM reset) AS reset_at,
                   {_FAILURES_SINCE_RESET.format(also="AND NOT ($3 AND f.pending)")}""",  # noqa: S608
        practice_id,
        username,
        settled,
    )
    return list(row["failures"]), row["reset_at"]


async def reserve_failure(
    conn: asyncpg.Connection,
    practice_id: str,
    username: str,
    at: datetime,
    zone: str,
    event_id: Any,
    against: datetime | None,
) -> Reserved:
    """One round trip (``reserve_attempt``, migration 026): the username's attempts serialised
    (:func:`lock_attempts`, until the caller's transaction ends), then, read under that lock,
    the username's failures, those of them settled (not pending), and its latest reset
    (:func:`failures`), and the guess counted as a pending failure before its verdict
    (:func:`add_failure` ``pending``; not among the failures returned). Outside a
    transaction the lock is held for this statement only, and the pending row is committed
    with it; a caller that finds the username locked drops it (:func:`drop_failure`), or rolls
    its transaction back. ``against``: the credential (its ``changed_at``) the guess is
    checked against, None for an unknown username."""
    row = await conn.fetchrow(
        "SELECT * FROM reserve_attempt($1, $2, $3, $4, $5, $6)",
        practice_id,
        username,
        at,
        zone,
        event_id,
        against,
    )
    return list(row["failures"]), list(row["settled"]), row["reset_at"]


async def add_failure(
    conn: asyncpg.Connection,
    practice_id: str,
    username: str,
    at: datetime,
    zone: str,
    event_id: Any,
    pending: bool = False,
    against: datetime | None = None,
) -> None:
    """A failed attempt (``event_id`` is its ``login.failed`` event's id). ``pending``: a
    password guess counted before its verdict; adding it again (settled) settles it.
    ``against``: the credential (its ``changed_at``) a password guess was checked against; a
    newer credential from before the guess makes it count no more (``counted_failures``,
    migration 024)."""
    await conn.execute(
        "INSERT INTO login_failures (practice, username, at, zone, event_id, pending, against) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (event_id) DO UPDATE SET pending = login_failures.pending AND $6",
        practice_id,
        username,
        at,
        zone,
        event_id,
        pending,
        against,
    )


async def drop_failure(conn: asyncpg.Connection, event_id: Any) -> None:
    """A pending guess turned out right: it was no failure."""
    await conn.execute("DELETE FROM login_failures WHERE event_id = $1", event_id)


#: The stage of a login whose new password is being stored (claimed by one call).
CHANGING_PASSWORD = "changing_password"  # noqa: S105 (a stage name)


async def claim_login(
    conn: asyncpg.Connection, login_id: str, stage: str, claimed: str, now: datetime
) -> asyncpg.Record | None:
    """Spend the open login's ``stage`` once: move it to ``claimed`` only if it is still at
    ``stage`` (one statement, so of two concurrent calls one gets the row, the other None).
    None too if the login is absent, complete or expired."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE logins SET stage = $3 "
        "WHERE id = $1 AND stage = $2 AND NOT done AND expires_at > $4 RETURNING *",
        login_id,
        stage,
        claimed,
        now,
    )
    return row


async def advance_login(
    conn: asyncpg.Connection, login_id: str, stage: str, expires_at: datetime, from_stage: str
) -> bool:
    """Move the login from ``from_stage`` to ``stage``; False if it is no longer there."""
    status: str = await conn.execute(
        "UPDATE logins SET stage = $2, expires_at = $3, done = ($2 = 'done') "
        "WHERE id = $1 AND stage = $4 AND NOT done",
        login_id,
        stage,
        expires_at,
        from_stage,
    )
    return status.endswith(" 1")


# -- second factors -------------------------------------------------------------------------


async def factor_kinds(conn: asyncpg.Connection, practice_id: str, employee_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT kind FROM factors WHERE practice = $1 AND employee = $2 AND active",
        practice_id,
        employee_id,
    )
    return [r["kind"] for r in rows]


async def has_active_factor(
    conn: asyncpg.Connection | asyncpg.Pool, login_id: str, kinds: Sequence[str]
) -> bool:
    """Whether the employee of the login has an active factor of one of ``kinds`` (yet)."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM logins l JOIN factors f
                            ON f.practice = l.practice AND f.employee = l.employee
                          WHERE l.id = $1 AND f.active AND f.kind = ANY($2::text[]))""",
        login_id,
        list(kinds),
    )
    return found


async def spend_recovery(
    conn: asyncpg.Connection,
    practice: str,
    factor_id: str,
    old_version: int,
    sealed: str,
    now: datetime,
    zone: str,
) -> FactorCredential | None:
    """Replace a recovery code by its successor (``sealed``) only if the factor is still active
    at ``old_version``: of two logins with the same code, one spends it, the other gets None.
    Only ``sealed`` and ``created_at`` are written, so a deactivation made concurrently in the
    other zone stays. Returns the factor's new state for ``factors``."""
    key = (practice, factor_id)
    current = await replicas.FACTORS.load(conn, key, lock=True)
    if current is None or current.stamp.version != old_version or not current.values["active"]:
        return None
    state = edit(current, {"sealed": sealed, "created_at": now}, now, zone)
    await replicas.FACTORS.upsert(conn, key, state)
    return FactorCredential(factor=factor_id, **stamped(state))


@dataclass(frozen=True)
class SecondStep:
    """An open login at its second step, locked for the caller's transaction, with what the
    step needs: the employee, the practice, the employee's active factors and the failures of
    the username."""

    login_id: str
    stage: str
    practice: Practice
    employee: Employee
    email: str | None
    factors: list[Factor]
    failures: list[datetime]
    reset_at: datetime | None
    #: Sessions of this employee that started at or before this are revoked.
    cutoff: datetime | None = None
    #: The level the login must reach (settled at its password step).
    required_level: Level = "low"
    #: The SHA-256 of the view's row this was read from (migration 027), for a completion
    #: guarded by it; None when read locked.
    seen: bytes | None = None


async def second_step(
    conn: asyncpg.Connection,
    login_id: str,
    stages: tuple[str, ...],
    now: datetime,
    serialise: bool = False,
) -> SecondStep | None:
    """One round trip (``second_step_locked``, migration 024): the open login at one of the
    stages, with its employee, practice, factors and failures. The login row stays locked
    (FOR UPDATE) until the caller's transaction ends; with ``serialise`` the username's
    attempts too (:func:`lock_attempts`), and its failures and reset are read under both
    locks."""
    row = await conn.fetchrow(
        "SELECT * FROM second_step_locked($1, $2::text[], $3, $4)",
        login_id,
        list(stages),
        now,
        serialise,
    )
    return None if row is None else second_step_of(row)


def second_step_of(row: asyncpg.Record) -> SecondStep:
    """A ``login_second_steps`` row (with its ``seen`` hash, if read) as a :class:`SecondStep`."""
    factors = row["factors"]
    if isinstance(factors, str):
        factors = json.loads(factors)
    return SecondStep(
        login_id=row["login_id"],
        stage=row["stage"],
        practice=_practice(row),
        employee=Employee(
            practice=row["id"],
            id=row["employee_id"],
            username=row["username"],
            name=row["employee_name"],
            rights_group=row["rights_group"],
            in_service=row["in_service"],
        ),
        email=row["email"],
        factors=[Factor(**f) for f in factors],
        failures=list(row["failures"]),
        reset_at=row["reset_at"],
        cutoff=row["cutoff"],
        required_level=row["required_level"],
        seen=row.get("seen"),
    )


async def recent_sends(
    conn: asyncpg.Connection, practice_id: str, employee_id: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many login codes the employee was sent after ``since``, and the oldest of them."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, min(created_at) AS oldest FROM login_codes "
        "WHERE practice = $1 AND employee = $2 AND created_at > $3",
        practice_id,
        employee_id,
        since,
    )
    return int(row["n"]), row["oldest"]


async def add_login_code(
    conn: asyncpg.Connection,
    code_id: Any,
    login_id: str,
    practice_id: str,
    employee_id: str,
    channel: str,
    sealed: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO login_codes (id, login_id, practice, employee, channel, sealed, "
        "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        code_id,
        login_id,
        practice_id,
        employee_id,
        channel,
        sealed,
        now,
        expires_at,
    )


async def newest_login_code(
    conn: asyncpg.Connection, login_id: str, channel: str
) -> asyncpg.Record | None:
    """The newest code sent for the login on ``channel`` (earlier ones no longer count)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM login_codes WHERE login_id = $1 AND channel = $2 "
        "ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
        login_id,
        channel,
    )
    return row


async def login_code_tried(conn: asyncpg.Connection, code_id: Any, used: bool) -> None:
    """A wrong try (one attempt more) or the right one (the code is spent)."""
    await conn.execute(
        "UPDATE login_codes SET attempts = attempts + 1, used = used OR $2 WHERE id = $1",
        code_id,
        used,
    )


@dataclass(frozen=True)
class Spend:
    """What a factor spends in the statement that completes its login, so that the spend and
    the completion happen together or not at all (a TOTP step). ``sql`` is an INSERT or UPDATE
    that reads the CTE ``open_login`` (one row while the login is open) and returns a row
    when it spent; in it ``$1`` to ``$5`` are the login id, the practice, the employee, the
    username key and now, and ``{0}``, ``{1}`` … its own ``values``."""

    sql: str
    values: tuple[Any, ...] = ()


def _recorded(source: str, practice: str, employee: str, at: str) -> str:
    """SQL: the CTE ``seen`` recording the employee's last login when ``source`` has a row."""
    return f"""seen AS (  -- the names are code's
               INSERT INTO last_logins (practice, employee, at)
               SELECT {practice}, {employee}, {at} FROM {source}
               ON CONFLICT (practice, employee)
               DO UPDATE SET at = greatest(last_logins.at, EXCLUDED.at) RETURNING 1)"""  # noqa: S608


#: What a successful login changes, wherever it succeeded (here, or the other zone's
#: ``login.succeeded``): the username's failures reset, the last login recorded.
_SUCCEEDED = (
    ", ".join(
        [
            "WITH succeeded AS (SELECT 1)",
            LOGIN_FAILURES.reset_ctes("succeeded", "$1", "$3", "$4"),
            _recorded("succeeded", "$1", "$2", "$4"),
            sessions.session_cte("succeeded", "$1", "$2", "$6", "$5::jsonb"),
        ]
    )
    + " SELECT 1"
)


@dataclass(frozen=True)
class AccountRow:
    """An employee's account: what the lockout and dormancy are computed from."""

    employee: str
    username: str
    in_service: bool
    last_login: datetime | None
    #: Every zone's settled failures since the username's latest reset, oldest first.
    failures: list[datetime]


async def account_rows(
    conn: asyncpg.Connection, practice_id: str, employee_id: str | None = None
) -> list[AccountRow]:
    """The practice's employees' accounts (or only ``employee_id``'s), by username."""
    employees = await conn.fetch(
        """SELECT e.id, e.username, e.in_service, l.at AS last_login
             FROM employees e
             LEFT JOIN last_logins l ON l.practice = e.practice AND l.employee = e.id
            WHERE e.practice = $1 AND ($2::text IS NULL OR e.id = $2)
            ORDER BY e.username""",
        practice_id,
        employee_id,
    )
    counted = await conn.fetch(
        """SELECT f.username, array_agg(f.at ORDER BY f.at) AS failures
             FROM counted_failures f
             LEFT JOIN login_resets r ON r.practice = f.practice AND r.username = f.username
            WHERE f.practice = $1 AND NOT f.pending AND f.at > coalesce(r.at, '-infinity')
              AND ($2::text[] IS NULL OR f.username = ANY($2::text[]))
            GROUP BY f.username""",
        practice_id,
        None if employee_id is None else [normalise_username(e["username"]) for e in employees],
    )
    failures = {row["username"]: list(row["failures"]) for row in counted}
    return [
        AccountRow(
            e["id"],
            e["username"],
            e["in_service"],
            e["last_login"],
            failures.get(normalise_username(e["username"]), []),
        )
        for e in employees
    ]


async def login_succeeded(
    conn: asyncpg.Connection,
    practice_id: str,
    employee_id: str,
    username: str,
    at: datetime,
    data: dict[str, Any],
    zone: str,
) -> None:
    """A successful login at ``at``: every zone's failures up to then cleared, the last login
    recorded, and the session its ``login.succeeded`` ``data`` describes, made in ``zone`` (one
    statement)."""
    await conn.execute(_SUCCEEDED, practice_id, employee_id, username, at, data, zone)


#: The completion of a login, with the factor's spend as ``{spend}``: what a successful login
#: changes, and the events queued, when the spend spent.
#: Of the login's queued events ($6, :func:`rows_json`), its ``login.succeeded``'s ``{}``
#: (``data``, or the ``zone`` of its source ``auth@<zone>``).
_SUCCEEDED_OF_6 = """(SELECT {} FROM jsonb_array_elements($6::jsonb) AS e(x),
                  LATERAL (SELECT e.x->'payload' AS p) AS q,
                  LATERAL (SELECT p->'data' AS data, split_part(p->>'source', '@', 2) AS zone) AS f
                  WHERE p->>'type' = 'login.succeeded' LIMIT 1)"""
_COMPLETE = ", ".join(  # noqa: S608 - every part is code's
    [
        """WITH open_login AS (
               SELECT 1 FROM logins WHERE id = $1 AND NOT done AND expires_at > $5),
           spent AS ({spend}),
           done AS (
               UPDATE logins SET stage = 'done', done = true
               WHERE id = $1 AND NOT done AND expires_at > $5 AND EXISTS (SELECT 1 FROM spent)
               RETURNING id)""",
        LOGIN_FAILURES.reset_ctes("done", "$2", "$4", "$5").replace("{", "{{").replace("}", "}}"),
        _recorded("done", "$2", "$3", "$5"),
        queued_cte(FROM_JSON.format(param="$6", when="EXISTS (SELECT 1 FROM done)")),
        sessions.session_cte(
            "done", "$2", "$3", _SUCCEEDED_OF_6.format("zone"), _SUCCEEDED_OF_6.format("data")
        ),
    ]
) + (
    """
           SELECT EXISTS (SELECT 1 FROM spent) AS spent, EXISTS (SELECT 1 FROM done) AS done"""
)


def completion(spend: Spend) -> str:
    """The statement of :func:`complete_login` with ``spend``: ``$1`` to ``$6`` as there,
    then the spend's own values."""
    own = (f"${7 + i}" for i in range(len(spend.values)))
    return _COMPLETE.format(spend=spend.sql.format(*own))


#: Without a spend of its own, a factor "spends" the open login.
_NOTHING_TO_SPEND = Spend("SELECT 1 FROM open_login")


async def complete_login(
    conn: asyncpg.Connection,
    login_id: str,
    practice_id: str,
    employee_id: str,
    username: str,
    now: datetime,
    events: list[OutboxRow],
    spend: Spend | None = None,
) -> tuple[bool, bool]:
    """One statement: the factor's ``spend`` (if any) and, only if it spent, mark the open login
    done (at most once), reset the username's failures, record the last login and queue
    ``events`` in the outbox. Returns (spent, the login was completed); when the login is not
    completed nothing but the spend changed."""
    spend = spend or _NOTHING_TO_SPEND
    rows = rows_json(events)
    row = await conn.fetchrow(
        completion(spend),
        login_id,
        practice_id,
        employee_id,
        username,
        now,
        rows,
        *spend.values,
    )
    return bool(row["spent"]), bool(row["done"])
