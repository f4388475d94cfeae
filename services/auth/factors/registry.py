"""The second factors auth knows, in one place: a new factor is a module registered here."""

from __future__ import annotations

from collections.abc import Mapping

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


def default(tools: StepTools) -> Registry:
    return Registry([module.method(tools) for module in MODULES])
