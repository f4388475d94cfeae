"""Settings of the local deployment (``tweestap dev``, fault tests, ``tweestap bench failover``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DevSettings(BaseSettings):
    """How the local deployment supervises its processes (environment ``TWEESTAP_DEV_*``)."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_DEV_", extra="ignore")

    #: ``tweestap dev`` listens here (127.0.0.1 only) for ``tweestap zone down|up``.
    control_port: int = Field(default=2527, ge=1, le=65535)
    #: A service that exited unasked is restarted after this wait, doubled for every further
    #: exit within ``restart_backoff_max_seconds`` of its restart (a crash loop), up to that.
    restart_backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    restart_backoff_max_seconds: float = Field(default=30.0, gt=0, le=600)
    #: How long a started service may take to answer 200 on ``/readyz``.
    ready_timeout_seconds: float = Field(default=90.0, gt=0, le=900)
