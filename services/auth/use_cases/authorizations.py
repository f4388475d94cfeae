"""The authorization side of the OpenID Provider (docs/adr/0011): what the web front door asks
of auth while a browser is at ``/authorize`` (a client's registration, a code for the
browser's SSO session, a pushed request's parameters), what an application pushes (RFC 9126),
and what an RP-initiated logout's ``id_token_hint`` names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from services.auth import problems
from services.auth.domain import oidc as sealed
from services.auth.domain import tokens
from services.auth.domain.clients import ClientState
from services.auth.domain.oauth import OAuthError, form_values
from services.auth.use_cases.client_auth import ClientAuthentication
from services.auth.use_cases.clients import Clients
from shared import assurance, oidc
from shared.assurance import Level
from shared.events import Text, utcnow
from shared.gate import TokenGate
from shared.sealing import Keyring
from shared.tokens import ID_TOKEN_TYPE, InvalidToken, TokenVerifier


class AuthorizationCodeRequest(BaseModel):
    """What the web front door asks a code for, with the browser's SSO session as bearer."""

    client_id: Text = Field(max_length=200)
    redirect_uri: Text = Field(max_length=oidc.MAX_PARAMETER)
    scope: Text = Field(max_length=200)
    code_challenge: Text = Field(max_length=128)
    nonce: Text | None = Field(default=None, max_length=oidc.MAX_PARAMETER)


class CodeIssued(BaseModel):
    code: str
    expires_in: int


class ClientView(BaseModel):
    """What the front door may know of a client: where it may send a browser."""

    client_id: str
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    public: bool
    #: The lowest assurance level of a session it accepts (ADR 0012).
    min_level: Level = "low"


class PushedResolve(BaseModel):
    client_id: Text = Field(max_length=200)
    request_uri: Text = Field(max_length=8192)


class Pushed(BaseModel):
    parameters: dict[str, str]


class LogoutRequest(BaseModel):
    id_token_hint: Text | None = Field(default=None, max_length=8192)
    client_id: Text | None = Field(default=None, max_length=200)
    post_logout_redirect_uri: Text | None = Field(default=None, max_length=oidc.MAX_PARAMETER)


class LogoutTarget(BaseModel):
    """Where an RP-initiated logout may return, and which SSO session the hint named."""

    client_id: str | None
    post_logout_redirect_uri: str | None
    sid: str | None


@dataclass(frozen=True)
class Authorizations:
    gate: TokenGate
    clients: Clients
    client_auth: ClientAuthentication
    keyring: Keyring
    verifier: TokenVerifier
    issuer: str
    leeway_seconds: int

    async def client(self, client_id: str) -> ClientView:
        state = await self._client(client_id)
        return ClientView(
            client_id=state.client_id,
            name=state.name,
            redirect_uris=state.redirect_uris,
            post_logout_redirect_uris=state.post_logout_redirect_uris,
            public=state.public,
            min_level=state.min_level,
        )

    async def _client(self, client_id: str) -> ClientState:
        state = await self.clients.get(client_id)
        if state is None:
            raise problems.unknown_client()
        return state

    async def code(self, token: str, asked: AuthorizationCodeRequest) -> CodeIssued:
        """A code for ``asked`` from the live SSO session ``token`` (a person's own session,
        not an application's grant)."""
        claims = await self.gate.live_session(token)
        session = tokens.Session.from_claims(claims)
        if session.sso_sid is not None:
            raise problems.invalid_authorization("An application's token is no SSO session.")
        client = await self._client(asked.client_id)
        if not assurance.at_least(session.level, client.min_level):
            raise problems.assurance_level_too_low(client.min_level)
        if asked.redirect_uri not in client.redirect_uris:
            raise problems.invalid_authorization("redirect_uri is not registered for the client")
        params = {
            "response_type": ["code"],
            "client_id": [asked.client_id],
            "scope": [asked.scope],
            "code_challenge": [asked.code_challenge],
            "code_challenge_method": ["S256"],
            **({"nonce": [asked.nonce]} if asked.nonce else {}),
        }
        try:
            request = oidc.read_request(params, asked.redirect_uri)
        except oidc.AuthorizationError as error:
            raise problems.invalid_authorization(error.description) from None
        code = sealed.new_code(
            sealed.SsoSession.from_session(session),
            client.client_id,
            request.redirect_uri,
            request.scope,
            request.code_challenge,
            request.nonce,
            utcnow(),
        )
        value = sealed.seal_code(self.keyring, code)
        return CodeIssued(code=value, expires_in=sealed.CODE_SECONDS)

    async def push(
        self, form: Mapping[str, list[str]], authorization: str | None
    ) -> dict[str, Any]:
        """RFC 9126: an authenticated client's request, checked now and sealed into a
        ``request_uri`` its browser brings to ``/authorize``."""
        values = form_values(form)
        client = await self.client_auth.authenticate(values, authorization)
        if "request_uri" in values:
            raise OAuthError("invalid_request", "request_uri may not be pushed")
        if values.get("client_id", client.client_id) != client.client_id:
            raise OAuthError("invalid_request", "client_id is not the authenticated client")
        redirect_uri = values.get("redirect_uri")
        if redirect_uri is None or redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for the client")
        params = {name: [value] for name, value in values.items() if name in oidc.PARAMETERS}
        params["client_id"] = [client.client_id]
        try:
            request = oidc.read_request(params, redirect_uri, pushed=True)
        except oidc.AuthorizationError as error:
            raise OAuthError(error.error, error.description) from None
        value = sealed.seal_pushed(self.keyring, client.client_id, request.parameters(), utcnow())
        return {"request_uri": oidc.REQUEST_URI_PREFIX + value, "expires_in": sealed.PUSHED_SECONDS}

    async def resolve(self, asked: PushedResolve) -> Pushed:
        """A pushed request's parameters, for the client that pushed it, until it expires."""
        if not asked.request_uri.startswith(oidc.REQUEST_URI_PREFIX):
            raise problems.invalid_request_uri()
        value = asked.request_uri.removeprefix(oidc.REQUEST_URI_PREFIX)
        try:
            parameters = sealed.open_pushed(self.keyring, value, asked.client_id, utcnow())
        except sealed.Unusable:
            raise problems.invalid_request_uri() from None
        return Pushed(parameters=parameters)

    async def logout(self, asked: LogoutRequest) -> LogoutTarget:
        """RP-initiated logout: the client and SSO session an ``id_token_hint`` names (expired
        or not: it is a hint, OpenID Connect RP-Initiated Logout §2), and the
        ``post_logout_redirect_uri`` only if that client registered it."""
        client_id, sid = asked.client_id, None
        if asked.id_token_hint is not None:
            try:
                hint = self.verifier.signed_jwt(
                    asked.id_token_hint,
                    ID_TOKEN_TYPE,
                    self.issuer,
                    None,
                    self.leeway_seconds,
                    verify_exp=False,
                )
            except InvalidToken:
                detail = "id_token_hint is not an ID token of ours"
                raise problems.invalid_authorization(detail) from None
            audience = hint.get("aud")
            if client_id is not None and client_id != audience:
                raise problems.invalid_authorization("client_id is not the hint's audience")
            client_id = audience if isinstance(audience, str) else None
            sid = hint.get("sid") if isinstance(hint.get("sid"), str) else None
        redirect = asked.post_logout_redirect_uri
        if redirect is not None:
            if client_id is None:
                raise problems.invalid_authorization(
                    "post_logout_redirect_uri needs client_id or id_token_hint"
                )
            client = await self._client(client_id)
            if redirect not in client.post_logout_redirect_uris:
                raise problems.invalid_authorization("post_logout_redirect_uri is not registered")
        return LogoutTarget(client_id=client_id, post_logout_redirect_uri=redirect, sid=sid)
