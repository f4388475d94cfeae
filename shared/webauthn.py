"""What enrolment (registering a passkey) and auth (checking one at login) agree on about
WebAuthn: the relying party's settings and what a passkey counts as in a token."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.factor_kinds import amr_of

#: RFC 8176 method references of a passkey login (after ``pwd``): proof of possession of a
#: hardware-secured key, and the user presence test every WebAuthn ceremony requires. Whether
#: the authenticator also verified the user (PIN, biometrics) is recorded, not claimed: the
#: relying party cannot tell which method it used.
AMR_PASSKEY: tuple[str, ...] = (amr_of("passkey"), "user")


class WebAuthnSettings(BaseSettings):
    """A mixin of a service's settings class (``class AuthSettings(Settings,
    WebAuthnSettings)``): the relying party a passkey is bound to."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_", extra="ignore")

    #: The relying party ID: the web front end's domain (or a parent of it). A passkey made
    #: for one RP ID never works for another; changing it strands every registered passkey.
    webauthn_rp_id: str = "localhost"
    #: The name an authenticator shows beside the passkey.
    webauthn_rp_name: str = "Tweestap"
    #: Origins a ceremony may come from (the web front end's scheme://host[:port]), as JSON.
    webauthn_origins: list[str] = Field(default_factory=lambda: ["http://localhost:8100"])
    #: How long a registration or login challenge may be answered; each is used once.
    webauthn_challenge_seconds: int = Field(default=300, ge=30, le=900)

    @model_validator(mode="after")
    def _origins_belong_to_rp_id(self) -> WebAuthnSettings:
        if not self.webauthn_origins:
            raise ValueError("webauthn_origins must name at least one origin")
        for origin in self.webauthn_origins:
            host = urlsplit(origin).hostname or ""
            if host != self.webauthn_rp_id and not host.endswith("." + self.webauthn_rp_id):
                # Browsers refuse such a ceremony anyway; say so at start, not at first use.
                raise ValueError(f"origin {origin} is not within RP ID {self.webauthn_rp_id}")
        return self
