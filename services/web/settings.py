"""The web front end's settings (env ``TWEESTAP_WEB_*``)."""

from __future__ import annotations

import base64
import secrets
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _zone(port: int) -> dict[str, str]:
    return {
        service: f"http://127.0.0.1:{port + offset}"
        for service, offset in (("auth", 1), ("enrolment", 2), ("certs", 3))
    }


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWEESTAP_WEB_", extra="ignore")

    service: str = "web"
    host: str = "127.0.0.1"
    port: int = 8100
    #: Both zones in order of preference, each a mapping service -> base URL (JSON).
    zones: list[dict[str, str]] = Field(default_factory=lambda: [_zone(8100), _zone(8200)])
    #: 32 bytes, base64: seals the session cookie (AES-GCM). Unset: a random key per process
    #: (sessions end when it restarts; set one shared key when running several processes).
    session_key: SecretStr | None = None
    #: A session unused this long ends (seconds).
    session_idle_seconds: int = Field(default=30 * 60, ge=60)
    #: A session ends this long after it began, used or not (seconds).
    session_absolute_seconds: int = Field(default=12 * 3600, ge=300)
    #: Cookie ``Secure``: "auto" sets it when the request came over TLS (or, with
    #: ``tls_proxy``, a proxy said so in X-Forwarded-Proto); "always"; "never".
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    #: Believe X-Forwarded-Proto (served behind a TLS-terminating proxy).
    tls_proxy: bool = False

    def sealing_key(self) -> bytes:
        if self.session_key is None:
            return secrets.token_bytes(32)
        key = base64.b64decode(self.session_key.get_secret_value())
        if len(key) != 32:
            raise ValueError("TWEESTAP_WEB_SESSION_KEY must be 32 bytes, base64")
        return key
