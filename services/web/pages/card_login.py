"""The login with a UZI-pas or PKIoverheid certificate in the browser (ADR 0013).

The deployment's TLS terminator asks the browser for a client certificate (nginx:
``ssl_verify_client optional`` against the UZI and PKIoverheid CAs), so the handshake proves
the browser holds the card's key, and passes the verified certificate to the web in a header.
The web believes that header only from a proxy of ``TWEESTAP_WEB_TRUSTED_PROXIES`` (from anyone
else it could be forged: a certificate is public) and only with the terminator's verdict
``SUCCESS``; it seals a statement of it (:mod:`shared.card_statement`) that auth alone can open,
and auth checks the certificate itself again (chain, validity, key usage, revocation) before it
makes the session."""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import unquote

from aiohttp import web
from tweestap_client import LoginInterrupted, TweestapClient, TweestapError, ZonesUnavailable

from services.web import i18n
from services.web import session as sessions
from services.web.context import PROXIES, SETTINGS, WebRoute, message, render, sdk
from services.web.oidc import pending
from services.web.pages import card_texts
from shared import card_statement
from shared.assurance import LEVELS, Level
from shared.sealing import Keyring

card_texts.register()

#: The longest certificate header read (a card's certificate is about 2 KB; escaped, 3 KB).
MAX_CERTIFICATE_CHARS = 16_384
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
TEMPLATE = "login/card.html"


def from_trusted_proxy(request: web.Request) -> bool:
    """Whether the peer is a proxy of ``TWEESTAP_WEB_TRUSTED_PROXIES`` (not what any header
    says: only the connection's own address counts)."""
    try:
        peer = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(peer in network for network in request.app[PROXIES])


def presented_certificate(request: web.Request) -> tuple[str | None, str]:
    """The client certificate (PEM) the terminator verified for this request, if a trusted
    proxy passed one with the verdict ``SUCCESS``; else None and the text key of why (a
    header from anyone else is ignored: no certificate)."""
    settings = request.app[SETTINGS]
    if not from_trusted_proxy(request):
        return None, "card.none"
    verdict = request.headers.get(settings.card_verify_header, "").strip()
    if verdict.startswith("FAILED"):
        # The terminator's own check of the chain (OpenSSL's words after "FAILED:").
        reason = verdict.lower()
        if "expired" in reason:
            return None, "error.certificate-expired"
        if "not yet valid" in reason:
            return None, "error.certificate-not-yet-valid"
        if "purpose" in reason:
            return None, "error.wrong-key-usage"
        return None, "error.untrusted-certificate"
    raw = request.headers.get(settings.card_certificate_header, "").strip()
    if verdict != "SUCCESS" or not raw or len(raw) > MAX_CERTIFICATE_CHARS:
        return None, "card.none"
    pem = unquote(raw) if "%" in raw else raw
    if PEM_BEGIN not in pem:
        return None, "card.none"
    return pem, ""


def _keyring(request: web.Request) -> Keyring | None:
    keys = request.app[SETTINGS].card_statement_keys.get_secret_value()
    return Keyring.parse(keys) if keys else None


def _asked(waiting: dict[str, object] | None) -> Level | None:
    """The level the application waiting for this login asks (ADR 0012), if above low."""
    level = (waiting or {}).get("level")
    return level if level in LEVELS and level != "low" else None


def _page(
    request: web.Request, error: str | None = None, status: int = 200, practice: str = ""
) -> web.Response:
    return render(request, TEMPLATE, {"error": error, "values": {"practice": practice}}, status)


def _text(request: web.Request, key: str) -> str:
    return i18n.text(request["session"]["locale"], key)


async def form(request: web.Request) -> web.StreamResponse:
    """The card login page: what to do, the button (a POST with the CSRF secret: a link from
    another site never logs anyone in)."""
    if _keyring(request) is None:
        return _page(request, _text(request, "card.off"), 404)
    return _page(request)


async def submit(request: web.Request) -> web.StreamResponse:
    """The card the terminator verified, sealed in a statement and logged in with at auth; a
    new session like any login's (the one before it ends), then on to the waiting
    application or the person's factors."""
    posted = await request.post()
    practice = str(posted.get("practice", "")).strip()
    keyring = _keyring(request)
    if keyring is None:
        return _page(request, _text(request, "card.off"), 404, practice)
    certificate, why = presented_certificate(request)
    if certificate is None:
        return _page(request, _text(request, why), 400, practice)
    now = time.time()
    waiting = pending.for_login(request["session"], str(posted.get("pending", "")), now)
    statement = card_statement.seal(
        keyring, card_statement.Statement.new(practice or None, certificate, now)
    )
    async with sdk(request) as client:
        if client.saved is not None:
            await client.logout()
        sessions.restart(request["session"], now, keep_csrf=True)
        if waiting is not None:
            request["session"][pending.KEY] = waiting
        try:
            await client.card_login(
                statement=statement, practice=practice or None, level=_asked(waiting)
            )
        except TweestapError as error:
            status = 503 if error.status >= 500 else (429 if error.status == 429 else 400)
            response = _page(request, message(request, error), status, practice)
            if error.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
            return response
        except ZonesUnavailable as error:
            key = "login_expired" if isinstance(error, LoginInterrupted) else "zones_down"
            if error.slug == "revocation-unavailable":
                key = f"error.{error.slug}"
            return _page(request, _text(request, key), 503, practice)
        return _logged_in(request, client)


def _logged_in(request: web.Request, client: TweestapClient) -> web.StreamResponse:
    session = request["session"]
    session["token"] = client.saved or {}
    raise web.HTTPSeeOther(pending.after_login(session, time.time()))


ROUTES = [
    WebRoute("GET", "/login/card", form),
    WebRoute("POST", "/login/card", submit),
]
