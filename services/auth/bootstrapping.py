"""``tweestap bootstrap``: the first practice and administrator, outside a running service."""

from __future__ import annotations

from services.auth.adapters.hasher import Hasher
from services.auth.adapters.keystore import KeyStore
from services.auth.adapters.signer import Signer
from services.auth.handlers import Auth, bootstrap
from services.auth.http import MIGRATIONS
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared.db import create_pool, migrate
from shared.sealing import Keyring


async def bootstrap_practice(
    settings: AuthSettings,
    practice: str,
    name: str,
    username: str,
    admin_name: str,
    password: str,
    email: str | None = None,
) -> str:
    await migrate(settings.database_url, settings.service, MIGRATIONS)
    pool = await create_pool(settings.database_url, 1, 2)
    keyring = Keyring.parse(settings.sealing_keys.get_secret_value())
    hasher = Hasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism, 1
    )
    try:
        auth = Auth(
            settings,
            pool,
            hasher,
            Signer(),
            keyring,
            KeyStore(settings, keyring),
            AuthMetrics(settings.zone),
        )
        return await bootstrap(auth, practice, name, username, admin_name, password, email)
    finally:
        hasher.close()
        await pool.close()
