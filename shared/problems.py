"""RFC 9457 problem details: the one error shape of every Tweestap endpoint."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

TYPE_BASE = "https://tweestap.nl/problems/"
CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error answer with a stable ``type``. ``extra`` members must never hold secrets."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(title)
        self.headers = headers or {}
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra

    def response(self, instance: str | None = None) -> web.Response:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        headers = dict(self.headers)
        if "retry_after" in self.extra:
            headers["Retry-After"] = str(self.extra["retry_after"])
        return web.Response(
            status=self.status, text=json.dumps(body), content_type=CONTENT_TYPE, headers=headers
        )


def unauthorized(detail: str = "A valid bearer token is required.") -> Problem:
    return Problem(401, "unauthorized", "Not authenticated", detail)


def forbidden(detail: str = "This token may not do that.") -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


def not_found(detail: str = "No such resource.") -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def session_revoked() -> Problem:
    return Problem(401, "session-revoked", "Session ended", "Log in again.")


def not_evaluated(detail: str) -> Problem:
    """503 by which a zone says it did nothing of the request (its database could not be
    reached before anything was written): a client may send it to another zone, even one it
    must never send twice (a password guess)."""
    return Problem(503, "not-evaluated", "Nothing done", detail, headers={"Retry-After": "1"})
