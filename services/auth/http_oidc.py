"""Auth's OpenID Provider routes (docs/adr/0011): what the web front door relays to, or asks
while a browser is at ``/authorize``. The OAuth endpoints (token, PAR, revocation, userinfo)
answer as OAuth says (RFC 6749 §5.2, RFC 6750 §3): JSON ``error``, not problem+json."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel

from services.auth.bootstrap import Provider
from services.auth.domain.oauth import OAuthError
from services.auth.use_cases.authorizations import (
    AuthorizationCodeRequest,
    ClientView,
    CodeIssued,
    LogoutRequest,
    LogoutTarget,
    Pushed,
    PushedResolve,
)
from shared.http import Route, bearer, json_response, parse_body, path_id
from shared.problems import Problem

PROVIDER = web.AppKey("oidc_provider", Provider)


class ClientForm(BaseModel):
    """Client authentication in a form (besides ``Authorization: Basic``): a public client's
    id, or a signed assertion (RFC 7523)."""

    client_id: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None


class TokenForm(ClientForm):
    grant_type: str
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    id_token: str
    scope: str


class PushForm(ClientForm):
    """RFC 9126: the authorization request's parameters (``shared.oidc.PARAMETERS``)."""

    response_type: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    state: str | None = None
    nonce: str | None = None


class PushAnswer(BaseModel):
    request_uri: str
    expires_in: int


class RevokeForm(ClientForm):
    token: str
    token_type_hint: str | None = None


FORM = "application/x-www-form-urlencoded"

OAuthHandler = Callable[[web.Request], Awaitable[web.Response]]


def oauth(handler: OAuthHandler) -> OAuthHandler:
    """An OAuth endpoint: its errors as RFC 6749 §5.2 JSON, and never cached (§5.1)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            response = await handler(request)
        except OAuthError as error:
            response = web.json_response(error.body(), status=error.status)
            if error.challenge is not None:
                response.headers["WWW-Authenticate"] = error.challenge
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    return wrapped


async def _form(request: web.Request) -> dict[str, list[str]]:
    """The form body's parameters, every value of each (duplicates are the use case's to
    refuse)."""
    if request.content_type != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_request", "the body is not a form") from None
    values: dict[str, list[str]] = {}
    for name, value in form.items():
        if not isinstance(value, str):
            raise OAuthError("invalid_request", "the body is not a form")
        values.setdefault(name, []).append(value)
    return values


def _provider(request: web.Request) -> Provider:
    return request.app[PROVIDER]


@oauth
async def token(request: web.Request) -> web.Response:
    form = await _form(request)
    authorization = request.headers.get("Authorization")
    return json_response(await _provider(request).token_endpoint.token(form, authorization))


@oauth
async def par(request: web.Request) -> web.Response:
    form = await _form(request)
    authorization = request.headers.get("Authorization")
    pushed = await _provider(request).authorizations.push(form, authorization)
    return json_response(pushed, status=201)


@oauth
async def revoke(request: web.Request) -> web.Response:
    form = await _form(request)
    await _provider(request).revocation.revoke(form, request.headers.get("Authorization"))
    return json_response({})


async def userinfo(request: web.Request) -> web.Response:
    """RFC 6750 §3: a refused token is told in ``WWW-Authenticate``."""
    try:
        claims = await _provider(request).userinfo.claims(bearer(request))
    except Problem as problem:
        error = "insufficient_scope" if problem.status == 403 else "invalid_token"
        status = 403 if problem.status == 403 else 401
        response = web.json_response(
            {"error": error, "error_description": problem.title}, status=status
        )
        response.headers["WWW-Authenticate"] = f'Bearer error="{error}"'
        return response
    return json_response(claims)


async def client(request: web.Request) -> web.Response:
    view = await _provider(request).authorizations.client(path_id(request, "client_id"))
    return json_response(view)


async def code(request: web.Request) -> web.Response:
    body = await parse_body(request, AuthorizationCodeRequest)
    issued = await _provider(request).authorizations.code(bearer(request), body)
    return json_response(issued, status=201)


async def resolve(request: web.Request) -> web.Response:
    body = await parse_body(request, PushedResolve)
    return json_response(await _provider(request).authorizations.resolve(body))


async def logout(request: web.Request) -> web.Response:
    body = await parse_body(request, LogoutRequest)
    return json_response(await _provider(request).authorizations.logout(body))


ROUTES = (
    Route(
        "POST",
        "/v1/oidc/token",
        token,
        "OpenID Connect token endpoint (form): a code (PKCE) or a refresh token for tokens",
        response=TokenAnswer,
        errors=(400, 401),
        form=TokenForm,
        oauth=True,
    ),
    Route(
        "POST",
        "/v1/oidc/par",
        par,
        "Pushed authorization request (RFC 9126, form, client authentication)",
        response=PushAnswer,
        status=201,
        errors=(400, 401),
        form=PushForm,
        oauth=True,
    ),
    Route(
        "POST",
        "/v1/oidc/revoke",
        revoke,
        "Token revocation (RFC 7009, form, client authentication): the grant ends",
        errors=(400, 401),
        form=RevokeForm,
        oauth=True,
    ),
    *(
        Route(
            method,
            "/v1/oidc/userinfo",
            userinfo,
            "OpenID Connect userinfo (an application's access token with scope openid)",
            bearer=True,
            errors=(401, 403),
            oauth=True,
        )
        for method in ("GET", "POST")
    ),
    Route(
        "GET",
        "/v1/oidc/clients/{client_id}",
        client,
        "A registered application's redirect URIs (for the front door's /authorize)",
        None,
        ClientView,
        errors=(404,),
    ),
    Route(
        "POST",
        "/v1/oidc/authorizations",
        code,
        "A code for an application from the browser's SSO session (the bearer)",
        AuthorizationCodeRequest,
        CodeIssued,
        True,
        status=201,
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/v1/oidc/par/resolve",
        resolve,
        "A pushed request's parameters, for the client that pushed it",
        PushedResolve,
        Pushed,
        errors=(400,),
    ),
    Route(
        "POST",
        "/v1/oidc/logout",
        logout,
        "RP-initiated logout: the client and SSO session an id_token_hint names, and where "
        "the browser may return",
        LogoutRequest,
        LogoutTarget,
        errors=(400, 404),
    ),
)
