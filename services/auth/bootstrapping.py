"""``tweestap bootstrap``: the first practice and administrator, outside a running service."""

from __future__ import annotations

import uuid

from services.auth.adapters.hasher import Hasher
from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.signer import Signer
from services.auth.core import AuthCore
from services.auth.domain.records import Employee, Practice
from services.auth.http import MIGRATIONS
from services.auth.metrics import AuthMetrics
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from services.auth.tokens import Tokens
from shared import directory_trust
from shared.db import create_pool, migrate_service
from shared.events import EmployeeUpserted, PracticeUpserted, utcnow
from shared.problems import Problem
from shared.sealing import Keyring
from shared.topics import DIRECTORY_EMPLOYEES, DIRECTORY_PRACTICES


async def bootstrap_practice(
    settings: AuthSettings,
    practice: str,
    name: str,
    username: str,
    admin_name: str,
    password: str,
    email: str | None = None,
) -> str:
    await migrate_service(settings, settings.service, MIGRATIONS)
    pool = await create_pool(settings.database_url, 1, 2)
    keyring = Keyring.parse(settings.sealing_keys.get_secret_value())
    hasher = Hasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism, 1
    )
    try:
        core = AuthCore(
            settings,
            pool,
            hasher,
            Signer(),
            keyring,
            KeyStore(settings, keyring),
            AuthMetrics(settings.zone),
        )
        return await bootstrap(core, practice, name, username, admin_name, password, email)
    finally:
        hasher.close()
        await pool.close()


async def bootstrap(
    core: AuthCore,
    practice_id: str,
    practice_name: str,
    username: str,
    admin_name: str,
    password: str,
    email: str | None = None,
) -> str:
    """Create a practice and its first administrator (rights group 1) by publishing through
    the outbox like any writer; returns the administrator's employee id."""
    now = utcnow()
    async with core.pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM credentials WHERE practice = $1", practice_id):
            raise Problem(409, "practice-exists", "Practice already bootstrapped")
    employee_id = uuid.uuid4().hex[:12]
    practice_body = PracticeUpserted(
        name=practice_name, email=email, version=1, updated_at=now, zone=core.settings.zone
    )
    employee_body = EmployeeUpserted(
        employee=employee_id,
        username=username,
        name=admin_name,
        rights_group=1,
        version=1,
        updated_at=now,
        zone=core.settings.zone,
    )
    practice = Practice(practice_id, practice_name, False, practice_body.password_policy)
    employee = Employee(practice_id, employee_id, username, admin_name, 1, True)
    async with core.pool.acquire() as conn, conn.transaction():
        await core.emit(
            conn,
            DIRECTORY_PRACTICES,
            "practice.upserted",
            practice_id,
            practice_id,
            practice_body.model_dump(mode="json"),
            now,
        )
        await core.emit(
            conn,
            DIRECTORY_EMPLOYEES,
            "employee.upserted",
            practice_id,
            employee_id,
            directory_trust.tagged(core.keyring, practice_id, employee_body),
            now,
        )
    passwords = Passwords(core, Tokens(core))
    await passwords.store(practice, employee, None, password, False, False, now)
    return employee_id
