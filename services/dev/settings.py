"""Settings of the local deployment (``tweestap dev``, fault tests, ``tweestap bench failover``)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DevSettings(BaseSettings):
    """How the local deployment supervises its processes (environment ``TWEESTAP_DEV_*``)."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_DEV_", extra="ignore")

    #: ``tweestap dev`` listens here (127.0.0.1 only) for ``tweestap zone down|up`` and
    #: ``tweestap dev reset-admin`` (plus ``port_offset``).
    control_port: int = Field(default=2527, ge=1, le=65535)
    #: Added to every fixed port of ``tweestap dev`` (services and their operations listeners,
    #: the web, the broker, the sinks, the control endpoint): a second checkout runs beside the
    #: first with e.g. 10000 (the web then on http://localhost:18100).
    port_offset: int = Field(default=0, ge=0, le=50000)
    #: A service that exited unasked is restarted after this wait, doubled for every further
    #: exit within ``restart_backoff_max_seconds`` of its restart (a crash loop), up to that.
    restart_backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    #: The longest such wait, and what counts as soon after a restart.
    restart_backoff_max_seconds: float = Field(default=30.0, gt=0, le=600)
    #: How long a started service may take to answer 200 on ``/readyz``.
    ready_timeout_seconds: float = Field(default=90.0, gt=0, le=900)

    @model_validator(mode="after")
    def _control_port_exists(self) -> DevSettings:
        if self.control_listen_port > 65535:
            raise ValueError("control_port + port_offset is beyond 65535")
        return self

    @property
    def control_listen_port(self) -> int:
        """Where the control endpoint listens: ``control_port`` plus ``port_offset``."""
        return self.control_port + self.port_offset
