"""The provider's routes, and which of them go without the session cookie and the CSRF check:
the relays (their callers are servers and apps, authenticated by what they send) and the two
POSTs a client's page may send from its own site (turned into GETs, which carry the cookie)."""

from __future__ import annotations

from services.web.context import WebRoute
from services.web.oidc import authorize, end_session, relays, texts

texts.register()

#: Paths without the session at any method (a wrong method's 405 sets no cookie either).
SESSIONLESS_PATHS = frozenset(relay.path for relay in relays.RELAYS)
#: POSTs from other sites: read without the session, answered by a redirect to the GET.
SESSIONLESS_POSTS = frozenset({"/authorize", "/end-session"})

ROUTES = [
    WebRoute("GET", "/authorize", authorize.authorize),
    WebRoute("POST", "/authorize", authorize.authorize_post),
    WebRoute("GET", "/authorize/resume", authorize.resume),
    WebRoute("GET", "/end-session", end_session.end_session),
    WebRoute("POST", "/end-session", end_session.end_session_post),
    WebRoute("POST", "/end-session/confirm", end_session.confirm),
    WebRoute("GET", "/end-session/cancel", end_session.cancel),
    *(WebRoute(relay.method, relay.path, relays.handler(relay)) for relay in relays.RELAYS),
]


def sessionless(method: str, path: str) -> bool:
    """Whether a request is served without the session cookie (none read, none set) and
    without the CSRF check."""
    return path in SESSIONLESS_PATHS or (method == "POST" and path in SESSIONLESS_POSTS)
