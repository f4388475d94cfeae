"""The relying parties' endpoints at the front door, each passed on to auth in either zone
(the SDK's ``relay``): what the client sent (its form or JSON, its ``Authorization``) goes as
it came, and auth's answer comes back as it is — status, body, content type,
``WWW-Authenticate``, ``Retry-After`` — with ``Cache-Control: no-store`` on everything but
the public metadata (discovery, keys: auth's own ``Cache-Control``). No zone answering is
OAuth's ``temporarily_unavailable`` (503). These paths have no session cookie and no CSRF
check (``app._session_middleware``): their callers are servers and apps, not this site's
pages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from tweestap_client import Response, ZonesUnavailable

from services.web.oidc import bodies, calls

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Auth's answer headers a client reads, passed on as they are.
PASSED = ("WWW-Authenticate", "Retry-After")


@dataclass(frozen=True)
class Relay:
    """``method path`` at the web, passed on to ``upstream`` at auth. ``repeatable``: may be
    sent to the other zone after it may have reached the first (reads, not a token request);
    ``public``: cacheable metadata; ``json``: a JSON body is passed on too (introspection)."""

    method: str
    path: str
    upstream: str
    repeatable: bool
    public: bool = False
    json: bool = False


DISCOVERY, JWKS = "/.well-known/openid-configuration", "/.well-known/jwks.json"
RELAYS = (
    Relay("GET", DISCOVERY, DISCOVERY, True, public=True),
    Relay("GET", JWKS, JWKS, True, public=True),
    Relay("POST", "/token", "/v1/oidc/token", False),
    Relay("POST", "/par", "/v1/oidc/par", False),
    Relay("POST", "/revoke", "/v1/oidc/revoke", False),
    Relay("GET", "/userinfo", "/v1/oidc/userinfo", True),
    Relay("POST", "/userinfo", "/v1/oidc/userinfo", True),
    Relay("POST", "/v1/tokens/introspect", "/v1/tokens/introspect", True, json=True),
)


def oauth_error(status: int, error: str, description: str) -> web.Response:
    """An OAuth error answer of the front door's own (RFC 6749 §5.2)."""
    response = web.json_response({"error": error, "error_description": description}, status=status)
    _no_store(response)
    return response


def _no_store(response: web.StreamResponse) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def passed_on(answer: Response, public: bool) -> web.Response:
    """Auth's ``answer`` as the web's response."""
    content_type = answer.headers.get("Content-Type")
    if answer.body is None:
        payload = b""
    elif isinstance(answer.body, str):
        payload = answer.body.encode()
    else:
        payload = json.dumps(answer.body, separators=(",", ":")).encode()
        content_type = content_type or "application/json"
    response = web.Response(status=answer.status, body=payload)
    if content_type and payload:
        response.headers["Content-Type"] = content_type
    for name in PASSED:
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    if public and answer.status == 200 and "Cache-Control" in answer.headers:
        response.headers["Cache-Control"] = answer.headers["Cache-Control"]
    else:
        _no_store(response)
    return response


def handler(relay: Relay) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await bodies.read(request, json_allowed=relay.json)
        except bodies.BadBody as bad:
            return oauth_error(bad.status, "invalid_request", bad.description)
        authorization = request.headers.get("Authorization")
        headers = {"Authorization": authorization} if authorization else {}
        try:
            async with calls.relaying(request) as client:
                answer = await client.relay(
                    relay.method,
                    relay.upstream,
                    form=body.form,
                    json=body.json,
                    headers=headers,
                    repeatable=relay.repeatable,
                )
        except ZonesUnavailable:
            return oauth_error(503, "temporarily_unavailable", "no zone of Tweestap answered")
        return passed_on(answer, relay.public)

    handle.__name__ = handle.__qualname__ = f"relay {relay.method} {relay.path}"
    return handle
