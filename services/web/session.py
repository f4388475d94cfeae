"""The session as a sealed cookie (AES-GCM): stateless, so web processes scale and a restart
loses nothing. It holds the token record or the login in progress (with, during the enrolment
wizard, that login's enrolment token), the CSRF secret and the locale; nothing in it is readable
or changeable without the key. A new login starts a new session: nothing of an earlier login
(another person's, at a shared workstation) is carried into it."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

COOKIE = "tweestap_session"
#: The name served over https: a browser keeps a ``__Host-`` cookie only when it is Secure, for
#: Path=/ and without Domain, so no other host (a subdomain) can set or shadow it.
HOST_COOKIE = f"__Host-{COOKIE}"
_AAD = b"tweestap-web-session-v1"


def cookie_name(https: bool) -> str:
    return HOST_COOKIE if https else COOKIE


def new(now: float, locale: str) -> dict[str, Any]:
    return {"csrf": secrets.token_urlsafe(32), "locale": locale, "began": now, "seen": now}


def restart(session: dict[str, Any], now: float, *, keep_csrf: bool = False) -> None:
    """Make ``session`` a new one in place, lifetimes from now, keeping only the language (at
    logout) or also the CSRF secret (when a login begins: other tabs' forms still post, and it
    is no secret from whoever sits at this browser)."""
    kept = {"locale": session.get("locale", "nl"), "csrf": session.get("csrf")}
    session.clear()
    session.update(new(now, str(kept["locale"])))
    if keep_csrf and kept["csrf"]:
        session["csrf"] = kept["csrf"]


def seal(key: bytes, data: dict[str, Any]) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(data, separators=(",", ":")).encode(), _AAD)
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(
    key: bytes, value: str, now: float, idle: float, absolute: float
) -> dict[str, Any] | None:
    """The session in ``value``, or None when it is forged, damaged or past its lifetimes."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _AAD))
    except (InvalidTag, ValueError, binascii.Error):
        return None
    if not isinstance(data, dict):
        return None
    began, seen = data.get("began"), data.get("seen")
    if not isinstance(began, (int, float)) or not isinstance(seen, (int, float)):
        return None
    if now - seen > idle or now - began > absolute:
        return None
    return data
