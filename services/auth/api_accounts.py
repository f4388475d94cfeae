"""Bodies of the administrator's account tasks at auth (issue 25): each employee's account
state, unlocking it and ending its sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

#: ``locked``: too many failed attempts, until ``locked_until``; ``dormant``: no login within
#: the practice's ``disable_after_days``; ``out_of_service``: switched off in the directory.
AccountStatus = Literal["active", "locked", "dormant", "out_of_service"]


class AccountView(BaseModel):
    employee: str
    username: str
    status: AccountStatus
    #: Failed attempts that count toward the lockout now (every zone's, since the last reset).
    failures: int
    locked_until: datetime | None
    last_login: datetime | None


class AccountList(BaseModel):
    accounts: list[AccountView]


class SessionsEnded(BaseModel):
    """Every session of the employee that started until ``before`` ended (every application's
    too: their grants get a back-channel logout)."""

    employee: str
    before: datetime


class SessionView(BaseModel):
    """One live session of the caller's: since when, from where, in which zone, by which
    application (``client_id``; none: a login of its own, as the web's), until when at most.
    An application's session (OpenID Connect) is its login's: since, where and zone."""

    started_at: datetime
    address: str | None
    zone: str | None
    client_id: str | None
    expires_at: datetime
    #: The session of the token that asked.
    current: bool


class SessionList(BaseModel):
    sessions: list[SessionView]
