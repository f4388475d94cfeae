"""Request bodies at the provider's endpoints, read with bounds before anything is passed on:
a form (``application/x-www-form-urlencoded``, its pairs in order with their repeats, for
auth to refuse a repeated parameter as RFC 6749 §3.2 asks), or JSON (auth's own
introspection takes it), or nothing. Garbage is a 400 or a 413, never an error of ours."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: The largest body the provider reads (a token request with a signed client assertion is a
#: few KiB; a pushed request with every parameter at its longest is under this).
MAX_BODY = 32 * 1024
#: The most parameters a form may have (OpenID Connect's authorization request has 19).
MAX_FIELDS = 64


class BadBody(Exception):
    """A body not passed on: ``status`` 400 or 413, ``description`` for the OAuth error."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


@dataclass(frozen=True)
class Body:
    """A body as read: ``form`` pairs, or ``json``, or neither (empty)."""

    form: list[tuple[str, str]] | None = None
    json: Any = None


async def read(request: web.Request, *, json_allowed: bool = False) -> Body:
    """The request's body; :class:`BadBody` for one too large, of another type, or malformed."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadBody(413, "the request is too large")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BadBody(413, "the request is too large") from None
    if len(raw) > MAX_BODY:
        raise BadBody(413, "the request is too large")
    if not raw:
        return Body()
    if request.content_type == FORM:
        return Body(form=pairs(raw))
    if request.content_type == JSON and json_allowed:
        try:
            return Body(json=json.loads(raw))
        except (ValueError, RecursionError):
            raise BadBody(400, "the body is not valid JSON") from None
    expected = f"{FORM} or {JSON}" if json_allowed else FORM
    raise BadBody(400, f"the body must be {expected}")


def pairs(raw: bytes) -> list[tuple[str, str]]:
    """A form's pairs in order (a name without a value: the empty string); UTF-8 only."""
    try:
        text = raw.decode("utf-8")
        found = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadBody(400, "the form is malformed") from None
    if any("\x00" in name or "\x00" in value for name, value in found):
        raise BadBody(400, "the form is malformed")
    return found
