"""A login's second step as the service saw it (migration 027): the login opened by its
password step and read back in the same call, or read without locks, each with the SHA-256 of
its ``login_second_steps`` row; and a TOTP completion guarded by that hash, in one round trip.
What the guard refuses goes the locked way (:func:`repository.second_step`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.adapters import totp_steps
from shared.assurance import Level
from shared.outbox import OutboxRow, rows_json

#: The hash the guarded completion compares, taken the same way of every row it is given.
_SEEN = "sha256(convert_to(s::text, 'UTF8')) AS seen"


@dataclass(frozen=True)
class Opening:
    """A login to open: ``passed``, the pending failure row (event id) of the right guess that
    opens it, settled in the same call; ``second_factor``: the login asked for one (step-up);
    ``required_level``: the level it must reach."""

    login_id: str
    practice_id: str
    employee_id: str
    now: datetime
    expires_at: datetime
    passed: Any = None
    second_factor: bool = False
    required_level: Level = "low"

    def arguments(self, *stage: str) -> tuple[Any, ...]:
        """The SQL functions' arguments, the stage (if any) after the employee."""
        who = (self.login_id, self.practice_id, self.employee_id)
        how = (self.now, self.expires_at, self.passed, self.second_factor, self.required_level)
        return (*who, *stage, *how)


async def open_login(
    conn: asyncpg.Connection, opening: Opening, stage: str
) -> repo.SecondStep | None:
    """Open a login at ``stage``; at ``second_factor``, its second step as it is now (with
    its hash), else None."""
    row = await conn.fetchrow(
        f"SELECT s.*, {_SEEN} FROM open_login($1, $2, $3, $4, $5, $6, $7, $8, $9) AS s",  # noqa: S608
        *opening.arguments(stage),
    )
    return None if row is None else repo.second_step_of(row)


async def open_password_login(conn: asyncpg.Connection, opening: Opening) -> datetime | None:
    """Open a password-only login at ``password`` for :func:`repository.complete_login` to
    complete; the employee's session cutoff."""
    cutoff: datetime | None = await conn.fetchval(
        "SELECT open_password_login($1, $2, $3, $4, $5, $6, $7, $8)", *opening.arguments()
    )
    return cutoff


async def read(
    conn: asyncpg.Connection, login_id: str, stages: tuple[str, ...], now: datetime
) -> repo.SecondStep | None:
    """The open login at one of ``stages``, read without locks, with its hash."""
    row = await conn.fetchrow(
        f"SELECT s.*, {_SEEN} FROM login_second_steps s "  # noqa: S608
        "WHERE s.login_id = $1 AND s.stage = ANY($2::text[]) AND NOT s.done "
        "AND s.expires_at > $3",
        login_id,
        list(stages),
        now,
    )
    return None if row is None else repo.second_step_of(row)


#: The completion the guarded call runs: the code's own statement with the TOTP spend (the
#: migration holds it verbatim; tests/integration/test_seen_steps.py compares the two).
TOTP_COMPLETION = repo.completion(totp_steps.spend("", 0))


async def complete_totp(
    conn: asyncpg.Connection,
    step: repo.SecondStep,
    stages: tuple[str, ...],
    now: datetime,
    events: list[OutboxRow],
    factor: str,
    used_step: int,
) -> tuple[bool, bool] | None:
    """One call: the login locked as :func:`repository.second_step` locks it and read again;
    if it is still as ``step`` saw it, spend ``used_step`` of ``factor`` and complete it as
    :func:`repository.complete_login` does, answering (spent, done) as that does. None (and
    nothing changed) when the login is no longer open at one of ``stages`` as seen."""
    if step.seen is None:
        return None
    row = await conn.fetchrow(
        "SELECT * FROM complete_totp_seen($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        step.login_id,
        step.practice.id,
        step.employee.id,
        step.employee.username_key,
        now,
        rows_json(events),
        factor,
        used_step,
        list(stages),
        step.seen,
    )
    return None if row is None else (bool(row["step_spent"]), bool(row["login_done"]))
