"""Auth's settings for logins with a UZI-pas or a PKIoverheid certificate (a mixin of
:class:`services.auth.settings.AuthSettings`, env ``TWEESTAP_CARD_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWEESTAP_", extra="ignore")

    #: PEM files (JSON list) of the CAs a UZI-pas or PKIoverheid certificate may chain to:
    #: self-signed certificates are anchors, the others intermediates (the UZI register's and
    #: PKIoverheid's roots and CAs). Empty: certificate logins are off.
    card_trust_store: list[Path] = Field(default_factory=list)
    #: How long one OCSP or CRL request may take.
    card_revocation_timeout_seconds: float = Field(default=5.0, ge=0.1, le=60)
    #: When neither the card's OCSP responders nor its CRLs give an answer that verifies:
    #: ``refuse`` the login (fail closed), or ``accept`` it (logged and counted as
    #: ``unchecked``). An answer is cached until its ``nextUpdate``, so ``refuse`` bites only
    #: when no fresh answer is at hand.
    card_revocation_unavailable: Literal["refuse", "accept"] = "refuse"
    #: The largest CRL fetched (bytes).
    card_max_crl_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024)
    #: The keyring (``kid:base64key,…``, 256-bit keys; the first seals) of the web front door's
    #: statements that a browser presented a certificate (ADR 0013); the same as the web's
    #: ``TWEESTAP_WEB_CARD_STATEMENT_KEYS``. Empty: no browser card logins.
    card_statement_keys: SecretStr = SecretStr("")
    #: How long a statement of the web is good (it is also good only once).
    card_statement_seconds: int = Field(default=60, ge=5, le=600)
    #: How long the nonce of a card challenge (other clients than the browser) may be signed.
    card_challenge_seconds: int = Field(default=300, ge=10, le=900)

    @property
    def card_logins(self) -> bool:
        return bool(self.card_trust_store)
