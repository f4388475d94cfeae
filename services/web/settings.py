"""The web front end's settings (env ``TWEESTAP_WEB_*``)."""

from __future__ import annotations

import base64
import secrets

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.ratelimit import parse_networks
from shared.sealing import Keyring


def _zone(port: int) -> dict[str, str]:
    return {
        service: f"http://127.0.0.1:{port + offset}"
        for service, offset in (("auth", 1), ("enrolment", 2), ("certs", 3))
    }


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWEESTAP_WEB_", extra="ignore")

    service: str = "web"
    #: Address the web front end listens on.
    host: str = "127.0.0.1"
    #: Its port.
    port: int = 8100
    #: The OpenID Provider's issuer: the web's public URL, the same as auth's
    #: ``TWEESTAP_ISSUER`` (auth names every endpoint under it). Sent as ``iss`` with every
    #: authorization response (RFC 9207).
    issuer: str = "https://tweestap.nl"
    #: Both zones in order of preference, each a mapping service -> base URL (JSON).
    zones: list[dict[str, str]] = Field(default_factory=lambda: [_zone(8100), _zone(8200)])
    #: 32 bytes, base64: seals the session cookie (AES-GCM). Unset: a random key per process
    #: (sessions end when it restarts; set one shared key when running several processes).
    session_key: SecretStr | None = None
    #: A session unused this long ends (seconds).
    session_idle_seconds: int = Field(default=30 * 60, ge=60)
    #: A session ends this long after it began, used or not (seconds).
    session_absolute_seconds: int = Field(default=12 * 3600, ge=300)
    #: Served over https (by this process or a TLS-terminating proxy in front): the session
    #: cookie is ``__Host-tweestap_session``, ``Secure``, ``Path=/``, no ``Domain``. Production
    #: sets it; unset only for plain-http development (``tweestap_session``, not Secure). Said
    #: here, not guessed from a request's headers.
    tls: bool = False
    #: Served behind a TLS-terminating proxy: the same as ``tls``.
    tls_proxy: bool = False
    #: Proxies (addresses or networks, JSON list) whose ``X-Forwarded-For`` is believed for the
    #: browser's address, which the web passes on to the services (login budget, audit trail);
    #: from anyone else the peer address counts.
    trusted_proxies: list[str] = Field(default_factory=list)

    #: The keyring (``kid:base64key,…``; the first seals) of the statements that a browser
    #: presented a UZI-pas or PKIoverheid certificate (ADR 0013): auth's
    #: ``TWEESTAP_CARD_STATEMENT_KEYS``. Empty: no card login at ``/login/card``.
    card_statement_keys: SecretStr = SecretStr("")
    #: The header in which the TLS terminator passes the browser's verified client certificate
    #: (PEM, URL-escaped as nginx's ``$ssl_client_escaped_cert``); believed only from a proxy of
    #: ``trusted_proxies``, ignored from anyone else.
    card_certificate_header: str = "X-SSL-Client-Cert"
    #: The header with the terminator's verdict on that certificate (nginx's
    #: ``$ssl_client_verify``): only ``SUCCESS`` counts.
    card_verify_header: str = "X-SSL-Client-Verify"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # ValueError for anything not an address or network
        return value

    @field_validator("card_statement_keys")
    @classmethod
    def _keyring(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            Keyring.parse(value.get_secret_value())  # ValueError for a malformed keyring
        return value

    @property
    def https(self) -> bool:
        """Whether browsers reach the web over https (the cookie's name and flags follow)."""
        return self.tls or self.tls_proxy

    def sealing_key(self) -> bytes:
        if self.session_key is None:
            return secrets.token_bytes(32)
        key = base64.b64decode(self.session_key.get_secret_value())
        if len(key) != 32:
            raise ValueError("TWEESTAP_WEB_SESSION_KEY must be 32 bytes, base64")
        return key
