"""The session token's claims, read unverified only to choose what a page shows (the console
link, the console's pages): every call a page then makes carries the token, and the services
verify it and refuse what it does not allow."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any


def token_claims(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The payload of the session's token, or None when there is none or it is unreadable."""
    token = str((record or {}).get("token") or "")
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None
