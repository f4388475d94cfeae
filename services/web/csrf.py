"""CSRF: every state-changing request carries the session's secret, in the form field
``csrf`` or the header ``X-CSRF-Token`` (JavaScript); SameSite=Lax is the second fence (no
cookie on a cross-site POST)."""

from __future__ import annotations

import hmac

FIELD = "csrf"
HEADER = "X-CSRF-Token"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def valid(secret: str | None, given: str | None) -> bool:
    if not secret or not given:
        return False
    return hmac.compare_digest(secret.encode(), given.encode())
