"""The second factors a login knows, in one place: a new factor is a module registered here."""

from __future__ import annotations

from services.auth.factors import Registry
from services.auth.factors.certificate import Certificate
from services.auth.factors.code import Code
from services.auth.factors.passkey import Passkey
from services.auth.factors.recovery import Recovery
from services.auth.factors.tools import StepTools
from services.auth.factors.totp import Totp


def default(tools: StepTools) -> Registry:
    return Registry([Passkey(tools), Totp(tools), Code(tools), Recovery(tools), Certificate(tools)])
