"""Where the web may send a browser back to: a path of this site only (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(value: str, fallback: str = "/") -> str:
    """``value`` when it is a path of this site (``/factors``, ``/console/employees?page=2``),
    else ``fallback``. Refused: control and other unprintable characters (browsers drop tab,
    CR and LF, so ``/\\t/evil.com`` would become ``//evil.com``), backslashes (read as ``/``),
    a scheme or host, and anything not starting with exactly one ``/``."""
    if not value.isprintable() or "\\" in value:
        return fallback
    if not value.startswith("/") or value.startswith("//"):
        return fallback
    try:
        parts = urlsplit(value)
    except ValueError:
        return fallback
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return fallback
    return value
