"""The provider's calls to auth (either zone, through the SDK): a client's registration, a
pushed request's parameters, a code for the SSO session, a logout's checks. Each raises
``ZonesUnavailable`` when no zone answers; the caller says so to the person or the client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from tweestap_client import NotLoggedIn, TweestapClient, acting_for

from services.web.context import HTTP, SETTINGS, browser_address, sdk
from shared.assurance import LEVELS, Level
from shared.events import ID_PATTERN
from shared.oidc import AuthorizationRequest


@dataclass(frozen=True)
class Client:
    """A registered client as auth describes it to the front door."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    public: bool
    #: The lowest assurance level of a session the client accepts (ADR 0012).
    min_level: Level = "low"


class Refused(Exception):
    """Auth refused the call (a 4xx other than the session's end): ``slug`` says why."""

    def __init__(self, status: int, slug: str) -> None:
        super().__init__(f"{status} {slug}")
        self.status, self.slug = status, slug


@asynccontextmanager
async def relaying(request: web.Request) -> AsyncIterator[TweestapClient]:
    """An SDK client without a session, acting for whoever sent ``request``."""
    async with TweestapClient(request.app[SETTINGS].zones, http=request.app[HTTP]) as client:
        with acting_for(browser_address(request)):
            yield client


def _slug(body: Any) -> str:
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else ""


async def client(request: web.Request, client_id: str) -> Client | None:
    """The active client ``client_id``, or None (unknown, removed, or no possible id)."""
    if re.fullmatch(ID_PATTERN, client_id) is None:
        return None
    async with relaying(request) as sdk_client:
        answer = await sdk_client.relay(
            "GET", f"/v1/oidc/clients/{quote(client_id, safe='')}", repeatable=True
        )
    if answer.status == 404:
        return None
    body = answer.body
    if answer.status != 200 or not isinstance(body, dict):
        raise Refused(answer.status, _slug(body))
    return Client(
        client_id=str(body["client_id"]),
        name=str(body.get("name") or body["client_id"]),
        redirect_uris=tuple(str(uri) for uri in body.get("redirect_uris") or ()),
        post_logout_redirect_uris=tuple(
            str(uri) for uri in body.get("post_logout_redirect_uris") or ()
        ),
        public=bool(body.get("public")),
        min_level=_level(body.get("min_level")),
    )


def _level(value: object) -> Level:
    return value if value in LEVELS else "low"


async def pushed(request: web.Request, client_id: str, request_uri: str) -> dict[str, list[str]]:
    """The parameters of the pushed request ``request_uri`` of ``client_id`` (RFC 9126), as
    a query's; :class:`Refused` when auth does not know it for that client (expired, spent,
    forged, another client's)."""
    async with relaying(request) as sdk_client:
        answer = await sdk_client.relay(
            "POST",
            "/v1/oidc/par/resolve",
            json={"client_id": client_id, "request_uri": request_uri},
            repeatable=False,
        )
    body = answer.body
    parameters = body.get("parameters") if isinstance(body, dict) else None
    if answer.status != 200 or not isinstance(parameters, dict):
        raise Refused(answer.status, _slug(body) or "invalid-request-uri")
    return {str(name): [str(value)] for name, value in parameters.items()}


async def issue_code(request: web.Request, asked: AuthorizationRequest) -> str | None:
    """A code for ``asked`` on the browser's SSO session; None when that session has ended
    (auth's 401, or a token past its time): the caller drops it and asks for a login."""
    body = {
        "client_id": asked.client_id,
        "redirect_uri": asked.redirect_uri,
        "scope": " ".join(asked.scope),
        "code_challenge": asked.code_challenge,
        "nonce": asked.nonce,
    }
    async with sdk(request) as sdk_client:
        try:
            answer = await sdk_client.request("auth", "POST", "/v1/oidc/authorizations", body)
        except NotLoggedIn:
            return None
    if answer.status == 401:
        return None
    code = answer.body.get("code") if isinstance(answer.body, dict) else None
    if answer.status not in (200, 201) or not isinstance(code, str):
        raise Refused(answer.status, _slug(answer.body))
    return code


@dataclass(frozen=True)
class LogoutCheck:
    """Auth's reading of an RP-initiated logout: the client, its registered
    ``post_logout_redirect_uri`` (None when none was asked or it is not registered), and the
    SSO session the ``id_token_hint`` names."""

    client_id: str | None
    post_logout_redirect_uri: str | None
    sid: str | None


async def logout_check(
    request: web.Request, hint: str | None, client_id: str | None, redirect: str | None
) -> LogoutCheck:
    """What auth makes of a logout request; :class:`Refused` for a bad one (a forged hint)."""
    async with relaying(request) as sdk_client:
        answer = await sdk_client.relay(
            "POST",
            "/v1/oidc/logout",
            json={
                "id_token_hint": hint,
                "client_id": client_id,
                "post_logout_redirect_uri": redirect,
            },
            repeatable=True,
        )
    body = answer.body
    if answer.status != 200 or not isinstance(body, dict):
        raise Refused(answer.status, _slug(body))

    def text(name: str) -> str | None:
        value = body.get(name)
        return value if isinstance(value, str) and value else None

    return LogoutCheck(text("client_id"), text("post_logout_redirect_uri"), text("sid"))
