"""Settings of the Dezi login (``TWEESTAP_DEZI_*``): Tweestap as a relying party of Dezi's
OpenID Provider (docs/adr/0014). A mixin of auth's settings class; unset issuer, no Dezi."""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.assurance import Level

ClientAuth = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
#: Hosts an issuer may be reached at over plain http (a test provider on this machine).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class DeziSettings(BaseSettings):
    """A mixin of auth's settings class (``class AuthSettings(Settings, DeziSettings)``)."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_", extra="ignore")

    #: Dezi's issuer, exactly as its discovery document
    #: (``{issuer}/.well-known/openid-configuration``) names it. Unset: no Dezi login (the
    #: web's `/login/dezi` says so). https; plain http only on this machine (``localhost``).
    dezi_issuer: str = ""
    #: The client id Dezi registered for this deployment. Its redirect URI is the web's
    #: ``{TWEESTAP_ISSUER}/login/dezi/callback``.
    dezi_client_id: str = ""
    #: The redirect URI registered at Dezi; empty: the web's
    #: ``{TWEESTAP_ISSUER}/login/dezi/callback``.
    dezi_redirect_uri: str = ""
    #: How Tweestap authenticates at Dezi's token endpoint: ``client_secret_basic``,
    #: ``client_secret_post`` (with `TWEESTAP_DEZI_CLIENT_SECRET`) or ``private_key_jwt``
    #: (with `TWEESTAP_DEZI_CLIENT_KEY`).
    dezi_client_auth: ClientAuth = "client_secret_basic"
    #: The client secret Dezi gave (``client_secret_basic``, ``client_secret_post``).
    dezi_client_secret: SecretStr = SecretStr("")
    #: The private key that signs the client assertions (``private_key_jwt``): a JWK (JSON)
    #: with its ``kid`` and ``alg`` (RS256, PS256, ES256 or EdDSA); Dezi holds its public half.
    dezi_client_key: SecretStr = SecretStr("")
    #: The scopes asked of Dezi (JSON list; ``openid`` is always asked).
    dezi_scopes: list[str] = Field(default_factory=lambda: ["openid"])
    #: The name on the login page's button ("Inloggen met …").
    dezi_display_name: str = Field(default="Dézi", min_length=1, max_length=40)
    #: The lowest level of assurance Dezi's answer must state (its ``acr``, ``loa_dezi`` or
    #: ``loa_authn`` claim, an eIDAS URI): an answer below it, or stating none, is refused.
    dezi_minimum_level: Level = "high"
    #: ``prompt`` sent to Dezi: ``login`` (every Tweestap login authenticates at Dezi afresh,
    #: whatever session the browser has there) or empty (Dezi decides).
    dezi_prompt: Literal["login", ""] = "login"
    #: How long a person may take at Dezi before coming back (the sealed login request's life).
    dezi_login_seconds: int = Field(default=600, ge=60, le=3600)
    #: How long Dezi's discovery document and key set are used before they are fetched again;
    #: an ID token naming a key not among them fetches the key set again at once (at most
    #: once a minute).
    dezi_metadata_keep_seconds: int = Field(default=3600, ge=0, le=86_400)
    #: How long one request to Dezi may take; beyond it the login is answered 503
    #: ``upstream-unavailable``.
    dezi_timeout_seconds: float = Field(default=5.0, ge=0.1, le=30)

    @property
    def dezi_enabled(self) -> bool:
        return bool(self.dezi_issuer)

    @model_validator(mode="after")
    def _dezi_complete(self) -> DeziSettings:
        if not self.dezi_issuer:
            return self
        url = urlsplit(self.dezi_issuer)
        if url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOCAL_HOSTS):
            raise ValueError("dezi_issuer must be an https URL (http only for localhost)")
        if not self.dezi_client_id:
            raise ValueError("dezi_client_id is needed with dezi_issuer")
        if self.dezi_client_auth == "private_key_jwt":
            _check_key(self.dezi_client_key.get_secret_value())
        elif not self.dezi_client_secret.get_secret_value():
            raise ValueError(f"dezi_client_secret is needed for {self.dezi_client_auth}")
        return self


def _check_key(raw: str) -> None:
    try:
        jwk = json.loads(raw)
    except ValueError:
        raise ValueError("dezi_client_key must be a JWK (JSON)") from None
    if not isinstance(jwk, dict) or not jwk.get("kid") or not jwk.get("alg"):
        raise ValueError("dezi_client_key must be a private JWK with kid and alg")
    if jwk["alg"] not in ("RS256", "PS256", "ES256", "EdDSA"):
        raise ValueError("dezi_client_key's alg must be RS256, PS256, ES256 or EdDSA")
