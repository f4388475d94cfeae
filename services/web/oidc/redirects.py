"""Where the provider sends a browser back to a client, and what the pages' CSP must allow
for that: pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

#: What a CSP source may be made of here (a scheme, a host, a port): nothing that could end a
#: directive or start another.
_SOURCE = re.compile(r"^[a-z][a-z0-9+.-]*:(//[A-Za-z0-9.\-\[\]:]+)?$")


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with ``params`` (None left out) added to its query, which it keeps (RFC 6749
    §3.1.2: the redirect URI's own query is retained)."""
    query = urlencode({name: value for name, value in params.items() if value is not None})
    if not query:
        return uri
    if "?" not in uri:
        return f"{uri}?{query}"
    return f"{uri}{'' if uri.endswith(('?', '&')) else '&'}{query}"


def authorization_response(
    redirect_uri: str, issuer: str, state: str | None, **params: str | None
) -> str:
    """The authorization response's URI: ``params`` (a code, or an error with its
    description), the request's ``state``, and the issuer (RFC 9207: a client that talks to
    several providers knows whose answer this is)."""
    return with_query(redirect_uri, {**params, "state": state, "iss": issuer})


def form_origin(uri: str) -> str | None:
    """The CSP source that lets a form's redirect chain end at ``uri``: its origin (scheme,
    host and port; never a path, user or query), or for a native app's private-use scheme
    the scheme alone; None when it is not one we can state safely."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        host = parts.hostname
        if not host:
            return None
        if ":" in host:
            host = f"[{host}]"
        source = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    else:
        source = f"{scheme}:"
    return source if _SOURCE.match(source) else None
