"""Failures counted per zone and summed, with a reset (DESIGN §4): each failure is a row of
the zone and event that made it (a grow-only set, so both zones converge however the events
interleave), and a success resets the count as of its time (a max-register per key). Auth
counts a username's failed logins, enrolment an employee's failed identity checks.

A counter's tables hold ``(event_id, practice, <key>, at, zone …)`` and ``(practice, <key>,
at)``; their names and the key column come from code, never from input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class ZoneCounter:
    failures: str
    resets: str
    #: The column that names what is counted (``username``, ``employee``).
    key: str
    #: SQL on a failure row (in code, never input): which rows a reset forgets. Auth keeps a
    #: guess still waiting for its verdict (``NOT pending``): deleting another login's pending
    #: row deadlocked two logins of one person, each resetting over the other's guess; a
    #: pending row at or before the reset counts no more anyway, and its verdict settles it.
    forgets: str = "true"

    def since_reset(self, at: str = "f.at") -> str:
        """SQL: ``at`` (a column of a row of the same practice and key as ``$1``, ``$2``)
        lies after the key's latest reset."""
        return (
            f"{at} > coalesce((SELECT r.at FROM {self.resets} r "  # noqa: S608 - names from code
            f"WHERE r.practice = $1 AND r.{self.key} = $2), '-infinity')"
        )

    async def count(self, conn: asyncpg.Connection, practice: str, key: str) -> int:
        """Failures of every zone since the latest reset."""
        found: int = await conn.fetchval(
            f"SELECT count(*) FROM {self.failures} f "  # noqa: S608 - names from code
            f"WHERE f.practice = $1 AND f.{self.key} = $2 AND {self.since_reset()}",
            practice,
            key,
        )
        return found

    async def add(
        self,
        conn: asyncpg.Connection,
        event_id: Any,
        practice: str,
        key: str,
        at: datetime,
        zone: str,
    ) -> None:
        """One failure (its event's id: a redelivery adds nothing)."""
        await conn.execute(
            f"INSERT INTO {self.failures} (event_id, practice, {self.key}, at, zone) "  # noqa: S608
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            event_id,
            practice,
            key,
            at,
            zone,
        )

    def reset_ctes(self, source: str, practice: str, key: str, at: str) -> str:
        """SQL: the CTEs ``reset`` and ``forgotten`` of a larger statement that reset the
        count of ``key`` as of ``at`` when the CTE ``source`` has a row (the parameters are
        given as ``$n``): failures up to then no longer count and are forgotten; a reset only
        moves forward."""
        return f"""reset AS (
               INSERT INTO {self.resets} (practice, {self.key}, at)
               SELECT {practice}, {key}, {at} FROM {source}
               ON CONFLICT (practice, {self.key})
               DO UPDATE SET at = greatest({self.resets}.at, EXCLUDED.at) RETURNING 1),
           forgotten AS (
               DELETE FROM {self.failures}
               WHERE practice = {practice} AND {self.key} = {key} AND at <= {at}
                 AND {self.forgets} AND EXISTS (SELECT 1 FROM {source})
               RETURNING 1)"""  # noqa: S608 - names from code

    async def reset(self, conn: asyncpg.Connection, practice: str, key: str, at: datetime) -> None:
        """Failures up to ``at`` no longer count (and are forgotten), in one statement."""
        await conn.execute(
            f"WITH now AS (SELECT 1), {self.reset_ctes('now', '$1', '$2', '$3')} SELECT 1",
            practice,
            key,
            at,
        )
