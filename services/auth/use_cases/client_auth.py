"""How an application proves who it is at the token, pushed-request and revocation endpoints
(OpenID Connect Core §9): ``client_secret_basic``, ``private_key_jwt`` (RFC 7523, keys at its
registered ``jwks_uri``) or, for a public client, its ``client_id`` alone (PKCE then binds the
code). A client must use the one method it was registered with."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from services.auth.adapters.client_keys import ClientKeys, KeysUnavailable
from services.auth.domain import clients
from services.auth.domain.clients import ClientState
from services.auth.domain.oauth import JWT_BEARER, OAuthError, invalid_client
from services.auth.use_cases.clients import Clients

#: The algorithms a client may sign its assertion with.
ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
#: An assertion may be valid this long at most (its ``exp`` from now), and is remembered
#: (``jti``) as long, so it is used once per process.
ASSERTION_MAX_SECONDS = 300
_REMEMBERED = 100_000


@dataclass
class ClientAuthentication:
    clients: Clients
    keys: ClientKeys
    #: The audiences an assertion may name: the issuer and its token and PAR endpoints.
    audiences: tuple[str, ...]
    leeway_seconds: int
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict, init=False)

    async def authenticate(self, form: Mapping[str, str], authorization: str | None) -> ClientState:
        """The active client the request authenticates as; ``invalid_client`` (401) for any
        failure, the same answer whatever went wrong."""
        assertion_type = form.get("client_assertion_type")
        basic = clients.basic_credentials(authorization) if authorization else None
        if authorization and basic is None:
            raise invalid_client('Basic realm="tweestap"')
        if basic is not None:
            if assertion_type or form.get("client_secret"):
                raise OAuthError("invalid_request", "one client authentication method only")
            return await self._basic(basic, form.get("client_id"))
        if assertion_type is not None:
            if assertion_type != JWT_BEARER or "client_assertion" not in form:
                raise invalid_client()
            return await self._assertion(form["client_assertion"], form.get("client_id"))
        if "client_secret" in form:
            raise invalid_client()  # client_secret_post is not offered
        return await self._public(form.get("client_id"))

    async def _basic(self, basic: tuple[str, str], named: str | None) -> ClientState:
        client_id, secret = basic
        if named is not None and named != client_id:
            raise invalid_client('Basic realm="tweestap"')
        state = await self.clients.get(client_id)
        hashed = state.secret_hash if state is not None else None
        if state is None or not clients.secret_matches(secret, hashed):
            raise invalid_client('Basic realm="tweestap"')
        if state.auth_method != "client_secret_basic":
            raise invalid_client('Basic realm="tweestap"')
        return state

    async def _assertion(self, assertion: str, named: str | None) -> ClientState:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise invalid_client() from None
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or (named is not None and named != client_id):
            raise invalid_client()
        state = await self.clients.get(client_id)
        if state is None or state.auth_method != "private_key_jwt" or state.jwks_uri is None:
            raise invalid_client()
        kid = header.get("kid")
        try:
            key = await self.keys.key(state.jwks_uri, kid if isinstance(kid, str) else None)
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=ASSERTION_ALGORITHMS,
                audience=list(self.audiences),
                issuer=client_id,
                leeway=self.leeway_seconds,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except (KeysUnavailable, jwt.PyJWTError):
            raise invalid_client() from None
        self._once(claims, client_id)
        return state

    def _once(self, claims: dict[str, Any], client_id: str) -> None:
        """RFC 7523 §3: ``sub`` is the client, ``exp`` near; its ``jti`` is used once."""
        now = time.time()
        exp = claims["exp"]
        if claims["sub"] != client_id or not isinstance(exp, int | float):
            raise invalid_client()
        if exp - now > ASSERTION_MAX_SECONDS:
            raise invalid_client()
        seen = f"{client_id}\n{claims['jti']}"
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if seen in self._seen:
            raise invalid_client()
        self._seen[seen] = float(exp) + self.leeway_seconds
        if len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)

    async def _public(self, client_id: str | None) -> ClientState:
        if client_id is None:
            raise invalid_client()
        state = await self.clients.get(client_id)
        if state is None or state.auth_method != "none":
            raise invalid_client()
        return state
