"""A message in the delivery queue, as a delivery attempt sees it once it has claimed it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared.events import Channel


@dataclass(frozen=True)
class Message:
    """What to send to whom; ``sealed`` parameters are still sealed, ``attempts`` counts the
    attempt under way."""

    request_id: uuid.UUID
    practice: str
    channel: Channel
    template: str
    locale: str
    recipient: str
    parameters: dict[str, str | int]
    sealed: dict[str, str]
    requested_at: datetime
    attempts: int
