"""A practice's settings and passwords in tests: its policy published as the directory's owner
does, the administrator's token, an administrator setting a password, strong passwords, and
argon2 at its cheapest cost with its verifies counted."""

from __future__ import annotations

from typing import Any

from shared.events import PasswordPolicy, PracticeUpserted, utcnow
from shared.topics import DIRECTORY_PRACTICES
from tests.support.cluster import ADMIN_PASSWORD, Zone, login, wait_for
from tests.support.factors import emit

#: Argon2 at its cheapest allowed cost: the tests count verifies, they do not time them.
FAST: dict[str, Any] = {"argon2_memory_kib": 8 * 1024, "argon2_time_cost": 1}

STRONG = "Lange-Zin-Met-Koffie-En-Fietsen-93"
STRONGER = "Nog-Een-Heel-Ander-Wachtwoord-Voor-2027"


async def admin_token(zone: Zone, practice: str = "fysio") -> str:
    status, body = await login(zone, practice, "admin", ADMIN_PASSWORD)
    assert status == 200, body
    token: str = body["token"]["token"]
    return token


async def put_password(
    zone: Zone, token: str, practice: str, employee: str, password: str, temporary: bool
) -> tuple[int, dict[str, Any]]:
    response = await zone.client.put(
        f"/v1/practices/{practice}/employees/{employee}/password",
        json={"password": password, "temporary": temporary},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status, await response.json(content_type=None)


async def set_policy(
    zone: Zone, practice: str, version: int, two_factor_required: bool = False, **policy: Any
) -> None:
    """Publish new practice settings the way the directory's owner does."""
    body = PracticeUpserted(
        name="Fysio Jansen",
        password_policy=PasswordPolicy(**policy),
        version=version,
        updated_at=utcnow(),
        zone=zone.settings.zone,
        two_factor_required=two_factor_required,
    )
    await emit(
        zone,
        DIRECTORY_PRACTICES,
        "practice.upserted",
        practice,
        body.model_dump(mode="json"),
        practice=practice,
        source="test@a",
    )

    async def applied() -> bool:
        v = await zone.auth.pool.fetchval("SELECT version FROM practices WHERE id = $1", practice)
        return bool(v == version)

    await wait_for(applied)


def count_verifies(zone: Zone) -> list[int]:
    """Count the argon2 verifies the zone runs (the real hasher still does the work)."""
    hasher = zone.auth.hasher
    original = hasher.verify
    calls = [0]

    async def counting(hashed: str | None, password: str) -> bool:
        calls[0] += 1
        return await original(hashed, password)

    hasher.verify = counting  # type: ignore[method-assign]
    return calls
