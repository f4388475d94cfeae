"""The auth service's use cases, wired in one place from the shared collaborators."""

from __future__ import annotations

from dataclasses import dataclass

from services.auth.core import AuthCore
from services.auth.factors import registry
from services.auth.factors.tools import StepTools
from services.auth.keys import Housekeeping, Keys
from services.auth.password_login import PasswordLogin
from services.auth.passwords import Passwords
from services.auth.second_step import SecondStep
from services.auth.tokens import Tokens


@dataclass(frozen=True)
class UseCases:
    login: PasswordLogin
    second_step: SecondStep
    tokens: Tokens
    passwords: Passwords
    keys: Keys
    housekeeping: Housekeeping


def compose(core: AuthCore) -> UseCases:
    tokens = Tokens(core)
    passwords = Passwords(core, tokens)
    tools = StepTools(core)
    return UseCases(
        login=PasswordLogin(core, passwords, tokens),
        second_step=SecondStep(tools, registry.default(tools)),
        tokens=tokens,
        passwords=passwords,
        keys=Keys(core),
        housekeeping=Housekeeping(core),
    )
