"""The directory as a service keeps it: practices from ``directory.practices`` and employees
from ``directory.employees`` (any writer: Tweestap in either zone, ``tweestap bootstrap``, host
systems), merged field by field (:mod:`shared.merge`) into the service's ``practices`` and
``employees`` tables.

Each service declares which fields it keeps (its tables are its own: only enrolment keeps
birth dates, phone numbers and BSN hashes); what is the same for every service is here, once:
how a record merges, who may make an administrator (:mod:`shared.directory_trust`), that a
username is unique in its practice, and that an employee going out of service ends every
session that started until then (the cutoff, in a service that keeps the ``revocations`` part),
so that they stay ended when the employee comes back, whoever published it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
from asyncpg.exceptions import UniqueViolationError

from shared import liveness
from shared.assurance import Level, check_policy
from shared.consumer import Handler
from shared.directory_trust import DirectoryTrust, admit_employee
from shared.events import (
    EmployeeUpserted,
    Envelope,
    InvalidEvent,
    PasswordPolicy,
    PracticeUpserted,
)
from shared.merged_rows import Derive, MergedTable
from shared.replicas.revocations import raise_cutoff
from shared.topics import DIRECTORY_EMPLOYEES, DIRECTORY_PRACTICES, Topic

#: Everything a practice's settings hold (the password policy merges per setting).
PRACTICE_FIELDS = ("name", "email", "two_factor_required", "policy", "assurance", "ura")
#: Fields where an upsert without a value (null) keeps the stored one: writers that do not
#: know them (host systems, ``tweestap bootstrap``) state none; ``""`` records "none".
OPTIONAL_PRACTICE_FIELDS = frozenset({"ura"})


def practices(fields: Iterable[str] = PRACTICE_FIELDS) -> MergedTable:
    """A service's ``practices`` table, keeping ``fields`` (its columns)."""
    kept = tuple(fields)
    return MergedTable(
        "practices",
        ("id",),
        kept,
        renames={"password_policy": "policy"},
        # Each password setting, and each assurance minimum, merges on its own.
        maps=frozenset({"policy", "assurance"} & set(kept)),
        optional=OPTIONAL_PRACTICE_FIELDS & set(kept),
    )


def employees(fields: Iterable[str], optional: Iterable[str] = ()) -> MergedTable:
    """A service's ``employees`` table, keeping ``fields``; ``optional``: fields where an
    upsert without a value keeps the stored one (a host system cannot compute a BSN hash)."""
    return MergedTable("employees", ("practice", "id"), tuple(fields), frozenset(optional))


def assurance_of(row: asyncpg.Record) -> dict[str, Level]:
    """The assurance minimums of a ``practices`` row (jsonb, a dict or its text)."""
    value = row["assurance"]
    return check_policy(json.loads(value) if isinstance(value, str) else dict(value or {}))


def policy_of(row: asyncpg.Record) -> PasswordPolicy:
    """The password policy of a ``practices`` row (jsonb, a dict or its text)."""
    value = row["policy"]
    return PasswordPolicy.model_validate(json.loads(value) if isinstance(value, str) else value)


@dataclass(frozen=True)
class Directory:
    practices: MergedTable
    #: None: the service keeps no employees (the notifier).
    employees: MergedTable | None = None
    #: Columns computed from a merged employee (auth's normalised username).
    derive: Derive | None = None
    #: Whether the service keeps session cutoffs (the ``revocations`` part).
    cutoffs: bool = True

    async def upsert_practice(
        self, conn: asyncpg.Connection, practice: str, ev: PracticeUpserted
    ) -> bool:
        """Merge practice settings into those held; True if anything changed."""
        liveness.writing(practice=practice)
        return await self.practices.upsert(conn, (practice,), self.practices.state_of(ev))

    async def upsert_employee(
        self, conn: asyncpg.Connection, practice: str, ev: EmployeeUpserted
    ) -> bool:
        """Merge an employee into the one held; True if anything changed. Raises
        UniqueViolationError when another employee of the practice has the username."""
        table = self._employees()
        liveness.writing(employee=(practice, ev.employee))
        return await table.upsert(conn, (practice, ev.employee), table.state_of(ev), self.derive)

    def _employees(self) -> MergedTable:
        if self.employees is None:
            raise RuntimeError("this service keeps no employees")
        return self.employees

    def handlers(self, trust: DirectoryTrust) -> dict[Topic, Handler]:
        """The consumer's handlers of the directory topics this service keeps."""

        async def on_practice(conn: asyncpg.Connection, event: Envelope) -> None:
            if event.type == "practice.upserted":
                await self.upsert_practice(
                    conn, event.practice, PracticeUpserted.model_validate(event.data)
                )

        async def on_employee(conn: asyncpg.Connection, event: Envelope) -> None:
            """One that is not valid (ValidationError), whose username another employee of the
            practice has, or that would make an administrator without Tweestap's tag is
            dead-lettered and changes nothing."""
            if event.type != "employee.upserted":
                return
            body = EmployeeUpserted.model_validate(event.data)
            await admit_employee(conn, trust, event.practice, event.data, body)
            try:
                async with conn.transaction():
                    await self.upsert_employee(conn, event.practice, body)
            except UniqueViolationError:
                raise InvalidEvent(
                    f"username {body.username!r} is taken in this practice"
                ) from None
            if self.cutoffs and not body.in_service:
                # "Then": when ``in_service`` was written (a later edit of another field
                # carries its older stamp).
                went = body.field_stamps().get("in_service", body.stamp).updated_at
                await raise_cutoff(conn, event.practice, body.employee, went)

        found: dict[Topic, Handler] = {DIRECTORY_PRACTICES: on_practice}
        if self.employees is not None:
            found[DIRECTORY_EMPLOYEES] = on_employee
        return found
