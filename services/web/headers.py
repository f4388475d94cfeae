"""Security headers on every response."""

from __future__ import annotations

from collections.abc import MutableMapping

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; connect-src 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def apply(headers: MutableMapping[str, str], static: bool) -> None:
    """Set the headers on ``headers`` (a response's); pages (not static files) are no-store:
    they may show personal data."""
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    if not static:
        headers["Cache-Control"] = "no-store"
