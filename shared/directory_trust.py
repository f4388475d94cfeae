"""Who may make an administrator through ``directory.employees``.

Host systems may publish employee upserts themselves, so a write to the topic is not proof that
the practice's administrator wanted it. Upserts written by Tweestap itself (enrolment's PUT,
``tweestap bootstrap``) carry a ``tag``: an AES-256-GCM seal, under the deployment's sealing
keyring that host systems do not have, of nothing, with the practice and the canonical JSON of
the rest of the upsert as associated data. So the tag authenticates the whole upsert (a host
cannot re-use a tag with other fields) and rotates with the keyring.

Every consumer of ``directory.employees`` (auth, enrolment, certs) admits an upsert through
:func:`admit_employee`: one that would create an employee of rights group 1 or raise one to it
is dead-lettered unless it carries a valid tag or ``TWEESTAP_DIRECTORY_HOST_ADMINS`` allows
host systems to make administrators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.consumer import InvalidEvent
from shared.events import EmployeeUpserted
from shared.sealing import Keyring, SealingError
from shared.settings import Settings
from shared.trust import canonical_json

TAG = "tag"
ADMIN_RIGHTS_GROUP = 1


def _aad(practice: str, data: Mapping[str, Any]) -> str:
    return f"directory.employee:{practice}:{canonical_json(data, TAG).decode()}"


def tagged(
    keyring: Keyring,
    practice: str,
    body: EmployeeUpserted,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event data of an upsert Tweestap writes: ``body`` (and ``extra``, e.g. the
    ``actor``, covered by the tag too) with its tag."""
    data = {**body.model_dump(mode="json"), **(extra or {})}
    return {**data, TAG: keyring.seal(b"", _aad(practice, data))}


def tag_valid(keyring: Keyring, practice: str, data: Mapping[str, Any]) -> bool:
    tag = data.get(TAG)
    if not isinstance(tag, str):
        return False
    try:
        keyring.open(tag, _aad(practice, data))
    except SealingError:
        return False
    return True


def makes_admin(new_rights_group: int, stored_rights_group: int | None) -> bool:
    """Whether an upsert creates an administrator or raises someone to one."""
    return new_rights_group == ADMIN_RIGHTS_GROUP and stored_rights_group != ADMIN_RIGHTS_GROUP


@dataclass(frozen=True)
class DirectoryTrust:
    keyring: Keyring
    #: ``TWEESTAP_DIRECTORY_HOST_ADMINS``
    host_admins: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> DirectoryTrust:
        return cls(
            Keyring.parse(settings.sealing_keys.get_secret_value()), settings.directory_host_admins
        )

    def check(
        self,
        practice: str,
        data: Mapping[str, Any],
        body: EmployeeUpserted,
        stored_rights_group: int | None,
    ) -> None:
        """Raise :class:`InvalidEvent` (dead letter) for an untrusted upsert that would make
        an administrator."""
        if self.host_admins or not makes_admin(body.rights_group, stored_rights_group):
            return
        if not tag_valid(self.keyring, practice, data):
            raise InvalidEvent(
                "an upsert without a valid Tweestap tag may not give rights group 1 "
                "(TWEESTAP_DIRECTORY_HOST_ADMINS is off)"
            )


async def admit_employee(
    conn: asyncpg.Connection,
    trust: DirectoryTrust,
    practice: str,
    data: Mapping[str, Any],
    body: EmployeeUpserted,
) -> None:
    """:meth:`DirectoryTrust.check` against the rights group stored in the service's
    ``employees`` table (auth, enrolment and certs each have one)."""
    stored: int | None = await conn.fetchval(
        "SELECT rights_group FROM employees WHERE practice = $1 AND id = $2",
        practice,
        body.employee,
    )
    trust.check(practice, data, body, stored)
