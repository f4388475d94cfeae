"""The second factors auth knows, in one place: a new factor is a module registered here, its
login method given what it uses and its replication plugged into the consumers."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from services.auth.adapters.notices import Notices
from services.auth.factors import (
    CredentialHook,
    FactorModule,
    Registry,
    Replicated,
    certificate,
    code,
    passkey,
    recovery,
    totp,
)
from services.auth.factors.tools import StepTools
from services.auth.metrics import AuthMetrics
from services.auth.settings import AuthSettings
from shared.outbox import EventWriter
from shared.sealing import Keyring

MODULES: tuple[FactorModule, ...] = (
    passkey.MODULE,
    totp.MODULE,
    code.MODULE,
    recovery.MODULE,
    certificate.MODULE,
)
#: The other zone's ``auth.events`` the factors apply (the state they spend replicates).
REPLICATED: Mapping[str, Replicated] = {
    kind: handler for module in MODULES for kind, handler in module.replicated.items()
}
#: What the factors keep of a factor credential from ``factors``, besides the credential.
ON_CREDENTIAL: tuple[CredentialHook, ...] = tuple(
    module.on_credential for module in MODULES if module.on_credential is not None
)


def default(
    tools: StepTools,
    pool: asyncpg.Pool,
    settings: AuthSettings,
    keyring: Keyring,
    events: EventWriter,
    notices: Notices,
    metrics: AuthMetrics,
) -> Registry:
    """The login methods, each given what it uses (building one does no I/O)."""
    return Registry(
        [
            passkey.Passkey(tools, pool, settings),
            totp.Totp(tools, events, notices, metrics),
            code.Code(tools, pool, settings, keyring, notices, metrics),
            recovery.Recovery(tools, settings, keyring, events, notices),
            certificate.Certificate(tools, pool, settings, events, notices, metrics),
        ]
    )
