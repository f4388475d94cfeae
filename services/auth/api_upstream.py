"""Request and response bodies of a login or link through an upstream OpenID Provider
(Dezi; docs/adr/0014)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.auth.api import TokenResponse
from shared.assurance import Level
from shared.events import Text


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UpstreamView(BaseModel):
    #: The means' name in paths (``dezi``).
    id: str
    #: What a login page calls it ("Inloggen met …").
    name: str


class UpstreamList(BaseModel):
    providers: list[UpstreamView]


class UpstreamStart(Body):
    """``POST /v1/upstream/{provider}/login``: an empty object."""


class UpstreamStarted(BaseModel):
    #: Where the browser goes: the upstream's authorization request (code + PKCE, state,
    #: nonce).
    authorization_url: str
    #: The sealed login request: kept by the caller (the web: in its sealed session) and sent
    #: back with the upstream's answer. Opaque.
    ticket: str
    #: Until when the answer may come back.
    expires_at: datetime


class UpstreamAnswer(Body):
    """What the upstream sent the browser back with (its redirect's query), and the ticket."""

    ticket: Text = Field(min_length=1, max_length=2000)
    code: Text = Field(min_length=1, max_length=2000)
    state: Text = Field(min_length=1, max_length=500)
    #: RFC 9207: the upstream's issuer, when it says it (required when its metadata says it
    #: always does).
    iss: Text | None = Field(default=None, max_length=2000)
    #: A login: the lowest level it must reach (an application's ``acr_values`` or minimum).
    level: Level | None = None


class UpstreamLoginDone(BaseModel):
    next: Literal["done"] = "done"
    token: TokenResponse


class DeziLinkProof(BaseModel):
    """Auth's signed statement that the session's employee proved this Dezi number just now,
    for enrolment's ``PUT /v1/dezi`` (a JWT, ``typ`` ``dezi-link+jwt``, 2 minutes)."""

    assertion: str
    dezi_number: str
    expires_at: datetime
