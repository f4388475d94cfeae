"""Auth's own events: what a token event says of its session and token."""

from __future__ import annotations

from datetime import datetime

from services.auth.domain import tokens
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
