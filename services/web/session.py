"""The session as a sealed cookie (AES-GCM): stateless, so web processes scale and a restart
loses nothing. It holds the token record or the login in progress, the CSRF secret and the
locale; nothing in it is readable or changeable without the key."""

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
_AAD = b"tweestap-web-session-v1"


def new(now: float, locale: str) -> dict[str, Any]:
    return {"csrf": secrets.token_urlsafe(32), "locale": locale, "began": now, "seen": now}


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
