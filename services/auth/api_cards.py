"""Request and response bodies of the card login (UZI-pas, PKIoverheid; ADR 0013)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.assurance import Level
from shared.events import ID_PATTERN, Text


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardChallengeRequest(_Body):
    #: The practice to log in to (left out: the card's URA and UZI number say which).
    practice: Text | None = Field(default=None, max_length=64, pattern=ID_PATTERN)


class CardChallengeResponse(_Body):
    #: The challenge's id, to send back with the signature.
    challenge: str
    #: What to sign with the card's key (its UTF-8 bytes; RSA-PSS or ECDSA with SHA-256).
    nonce: str
    expires_at: datetime


class CardLoginRequest(_Body):
    """Either the web front door's ``statement`` (a browser's client-certificate TLS), or a
    ``challenge`` with the ``certificate`` (PEM: the card, then any intermediates) and the
    ``signature`` of its nonce. ``practice``: the practice to log in to; left out, the card
    says which (the one practice of its URA where an employee has its UZI number)."""

    practice: Text | None = Field(default=None, max_length=64, pattern=ID_PATTERN)
    statement: Text | None = Field(default=None, min_length=1, max_length=24_000)
    challenge: Text | None = Field(default=None, min_length=1, max_length=100)
    certificate: Text | None = Field(default=None, min_length=1, max_length=32_768)
    signature: Text | None = Field(default=None, min_length=1, max_length=4096)
    #: The lowest level the login must reach (an application's ``acr_values``).
    level: Level | None = None

    @model_validator(mode="after")
    def _one_way(self) -> CardLoginRequest:
        signed = (self.challenge, self.certificate, self.signature)
        if self.statement is not None and any(v is not None for v in signed):
            raise ValueError("a statement or a signed challenge, not both")
        if self.statement is None and any(v is None for v in signed):
            raise ValueError("challenge, certificate and signature are needed together")
        return self
