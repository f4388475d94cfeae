"""Auth's own events: what a token event says of its session and token, and what a login's
``login.succeeded`` says."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.auth.adapters import sessions
from services.auth.domain import tokens
from services.auth.domain.records import Employee
from shared import actors
from shared.assurance import LOA
from shared.events import Envelope
from shared.outbox import EventWriter


def token_event(
    events: EventWriter, kind: str, session: tokens.Session, grant: tokens.Grant, now: datetime
) -> Envelope:
    """``token.issued``, ``token.renewed``: which session, which token, how it counts."""
    return events.event(
        kind,
        session.practice,
        session.employee,
        {
            "sid": session.sid,
            "jti": grant.claims["jti"],
            "exp": grant.claims["exp"],
            "amr": list(session.amr),
            "acr": LOA[session.level],
            "aal": session.aal,
            "level": session.level,
        },
        now,
    )


def succeeded_data(
    employee: Employee,
    session: tokens.Session,
    session_end: datetime,
    means: str,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``login.succeeded``'s data (the audit trail): who, by which means (with the factor's
    ``detail``), amr and level, and the session it began."""
    return {
        "username": employee.username_key,
        "employee": employee.id,
        "means": means,
        "amr": list(session.amr),
        "level": session.level,
        **(detail or {}),
        **sessions.fields(session, session_end),
        "actor": actors.actor(employee.id, employee.rights_group),
    }
