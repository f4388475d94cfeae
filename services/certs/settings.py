"""Settings of the certificate store."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class CertsSettings(Settings):
    service: str = "certs"
    #: The ``iss`` of the tokens auth signs (the same value as auth's ``TWEESTAP_ISSUER``).
    issuer: str = "https://tweestap.nl"
    #: Clock skew tolerated when verifying tokens.
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    #: How often the maintenance task looks for expiring certificates (and reloads keys).
    expiry_check_seconds: float = Field(default=3600.0, gt=0, le=24 * 3600)
    #: Time zone of the dates written in expiry e-mails.
    mail_time_zone: str = "Europe/Amsterdam"
