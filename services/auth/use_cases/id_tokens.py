"""ID tokens (OpenID Connect Core §2): who logged in, how and when, for one application,
signed with the algorithm the client was registered with (RS256 by default, or EdDSA) by this
zone's current key of it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.auth.adapters.signer import Signer
from services.auth.domain.clients import ClientState
from services.auth.domain.oidc import SsoSession
from shared import oidc
from shared.assurance import LOA
from shared.tokens import ID_TOKEN_TYPE


@dataclass(frozen=True)
class IdTokens:
    signer: Signer
    issuer: str
    lifetime: timedelta

    def sign(
        self,
        client: ClientState,
        sso: SsoSession,
        scope: tuple[str, ...],
        person: Mapping[str, Any],
        now: datetime,
        nonce: str | None = None,
    ) -> str:
        """The ID token of ``sso`` for ``client``: ``sid`` is the SSO session's (what a
        back-channel logout token names), the person's claims as ``scope`` allows."""
        iat = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sso.employee,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": iat,
            "exp": iat + int(self.lifetime.total_seconds()),
            "auth_time": math.floor(sso.auth_time.timestamp()),
            "acr": LOA[sso.level],
            "aal": sso.aal,
            "amr": list(sso.amr),
            "sid": sso.sid,
            "practice": sso.practice,
            **oidc.claims_for(
                scope,
                {
                    "name": person.get("name"),
                    "preferred_username": person.get("username"),
                    "email": person.get("email"),
                },
            ),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return self.signer.sign_jwt(claims, now, alg=client.id_token_alg, typ=ID_TOKEN_TYPE)
