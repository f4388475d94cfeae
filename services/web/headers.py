"""Security headers on every response."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence

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


def csp(form_targets: Sequence[str] = ()) -> str:
    """The policy; ``form_targets``: origins a form's redirect chain may also end at (a
    client's redirect URI while an OpenID request waits for its login: Chromium checks
    ``form-action`` at every redirect after a form's POST)."""
    if not form_targets:
        return CSP
    return CSP.replace("form-action 'self'", " ".join(("form-action 'self'", *form_targets)))


def apply(
    headers: MutableMapping[str, str],
    static: bool,
    form_targets: Sequence[str] = (),
    cache: bool = False,
) -> None:
    """Set the headers on ``headers`` (a response's); pages (not static files) are no-store:
    they may show personal data. ``cache``: a ``Cache-Control`` already set stays (public
    metadata the provider passes on)."""
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    headers["Content-Security-Policy"] = csp(form_targets)
    if not static and not (cache and "Cache-Control" in headers):
        headers["Cache-Control"] = "no-store"
