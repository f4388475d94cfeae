"""An employee's account as auth reads it: the practice, the employee and the password
credential, which is sealed at rest (AAD ``credential:{practice}:{employee}``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.auth.adapters import repository as repo
from services.auth.domain.records import Credential, Employee, Practice
from shared.events import credential_aad
from shared.problems import unauthorized
from shared.sealing import Keyring


@dataclass(frozen=True)
class Accounts:
    keyring: Keyring

    def credential(self, row: Mapping[str, Any]) -> Credential:
        """The credential of a ``credentials`` row, opened."""
        body = json.loads(
            self.keyring.open(row["sealed"], credential_aad(row["practice"], row["employee"]))
        )
        return Credential(
            hash=body["hash"],
            history=body["history"],
            changed_at=row["changed_at"],
            must_change=row["must_change"],
            strength=row["strength"],
            version=row["version"],
        )

    def seal(self, practice: str, employee: str, hashed: str, history: list[str]) -> str:
        """A password's hash and history, sealed for the ``credentials`` row and the bus."""
        body = json.dumps({"hash": hashed, "history": history}).encode()
        return self.keyring.seal(body, credential_aad(practice, employee))

    async def load(
        self, conn: asyncpg.Connection, practice_id: str, employee_id: str
    ) -> tuple[Practice, Employee, Credential]:
        """The account of a session or an open login; 401 if any part of it is gone."""
        practice = await repo.practice(conn, practice_id)
        employee = await repo.employee(conn, practice_id, employee_id)
        row = await repo.credential_row(conn, practice_id, employee_id)
        if practice is None or employee is None or row is None:
            raise unauthorized("This account no longer exists.")
        return practice, employee, self.credential(row)
