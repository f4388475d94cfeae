"""What the OpenID Provider's tests share (issue 23, ADR 0011)."""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import socket
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from services.auth.domain.clients import Registration
from tests.support.cluster import Zone


def pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def register(
    zone: Zone, client_id: str, redirect_uris: tuple[str, ...], **registration: Any
) -> str | None:
    """An application registered at ``zone``'s auth (its secret, or None for a public one)."""
    fields = {"redirect_uris": redirect_uris, **registration}
    return await zone.use_cases.clients.register(
        client_id, f"App {client_id}", Registration(**fields)
    )


def query_of(location: str) -> dict[str, str]:
    """The query of a redirect's ``Location`` (each parameter once)."""
    return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))


#: The ports the provider's browser tests serve on (the web, the relying party's site).
PORTS = range(18600, 18700)


def free_port_in(ports: range = PORTS, taken: tuple[int, ...] = ()) -> int:
    """A port of ``ports`` nothing listens on now (tried in random order)."""
    for port in random.sample(ports, len(ports)):
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")
