"""The web front door's statement that a browser presented a certificate over client-certificate
TLS (ADR 0013): what auth believes of a card login from a browser — pure, no I/O.

A certificate is public, so auth never takes a bare one as proof: the TLS terminator verified
the browser's possession of the card's key in the handshake and handed the certificate to the
web (from a trusted proxy only), and the web says so in a statement sealed (AES-256-GCM,
:mod:`shared.sealing`) under the card statement keyring that only the web and auth hold
(``TWEESTAP_WEB_CARD_STATEMENT_KEYS`` = ``TWEESTAP_CARD_STATEMENT_KEYS``). A statement names
the practice, the certificate and when it was made; it is good for
``max_age`` seconds and once (its ``id``)."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass

from shared.sealing import Keyring, SealingError

#: The associated data of every statement: a statement never opens as anything else.
PURPOSE = b"tweestap-card-statement-v1"
#: The longest sealed statement read.
MAX_SEALED_CHARS = 24_000


class StatementRefused(Exception):
    """Not a statement of the web, or no longer good; the message says which."""


@dataclass(frozen=True)
class Statement:
    id: str
    #: The practice the login form named (None: the card says which).
    practice: str | None
    #: The certificate the browser presented (PEM), as the terminator passed it.
    certificate: str
    issued_at: float

    @classmethod
    def new(cls, practice: str | None, certificate: str, now: float) -> Statement:
        return cls(str(uuid.uuid4()), practice, certificate, now)


def seal(keyring: Keyring, statement: Statement) -> str:
    return keyring.seal(json.dumps(asdict(statement)).encode(), PURPOSE)


def open_statement(keyring: Keyring, sealed: str, now: float, max_age: float) -> Statement:
    """The statement ``sealed`` holds, if the web made it within ``max_age`` seconds."""
    if len(sealed) > MAX_SEALED_CHARS:
        raise StatementRefused("too long")
    try:
        found = json.loads(keyring.open(sealed, PURPOSE))
        statement = Statement(
            id=str(found["id"]),
            practice=None if found["practice"] is None else str(found["practice"]),
            certificate=str(found["certificate"]),
            issued_at=float(found["issued_at"]),
        )
    except SealingError:
        raise StatementRefused("not sealed by the web front door") from None
    except (ValueError, KeyError, TypeError):
        raise StatementRefused("not a statement") from None
    if not math.isfinite(statement.issued_at) or not (
        now - max_age <= statement.issued_at <= now + 5
    ):
        raise StatementRefused("out of date")
    return statement
