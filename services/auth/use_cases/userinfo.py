"""The userinfo endpoint (OpenID Connect Core §5.3): the person an application's access token
stands for, as its grant's scope allows, while the grant is live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import oidc
from shared.gate import TokenGate
from shared.problems import Problem
from shared.tokens import SSO_SESSION_CLAIM, scopes


@dataclass(frozen=True)
class Userinfo:
    gate: TokenGate

    async def claims(self, token: str) -> dict[str, Any]:
        """The claims; a 401 problem for a token that is not live, 403 ``insufficient-scope``
        for a token no application got with ``openid``."""
        claims, state = await self.gate.live(token)
        granted = scopes(claims)
        if SSO_SESSION_CLAIM not in claims or oidc.OPENID not in granted:
            raise Problem(
                403,
                "insufficient-scope",
                "Not an OpenID grant",
                "Only an access token an application got with scope openid reads userinfo.",
            )
        person = {
            "sub": claims["sub"],
            "practice": claims["practice"],
            "name": state["name"],
            "preferred_username": state["username"],
            "email": state["email"],
        }
        return {"sub": claims["sub"], **oidc.claims_for(granted, person)}
