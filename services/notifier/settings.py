"""Settings of the notifier (e-mail over SMTP, SMS over an HTTP gateway, back-channel logout
tokens over HTTP)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import Settings


class NotifierSettings(Settings):
    service: str = "notifier"
    #: All the notifier's work comes from Kafka: without the broker it has none to do.
    ready_needs_broker: bool = True
    #: The SMTP server (a relay or a submission server).
    smtp_host: str = "127.0.0.1"
    #: Its port (587 for `starttls`, 465 for `tls`).
    smtp_port: int = 25
    #: ``none`` (plain, for a local relay), ``starttls`` (submission, 587) or ``tls`` (465).
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    #: SMTP AUTH user name; when set, the notifier logs in with it and `TWEESTAP_SMTP_PASSWORD`.
    smtp_username: str | None = None
    #: SMTP AUTH password.
    smtp_password: SecretStr | None = None
    #: Bounce address (SMTP MAIL FROM); the visible sender is always the practice's address.
    smtp_envelope_from: str | None = None
    #: The name given in EHLO (default: this host's name).
    smtp_local_hostname: str | None = None
    #: The SMS provider: `http`, a JSON-over-HTTP gateway (a provider is one class in `PROVIDERS` of
    #: `services/notifier/adapters/sms.py`).
    sms_provider: Literal["http"] = "http"
    #: The gateway's URL; the notifier POSTs `to`, `from`, `text` and `reference` to it as JSON. The
    #: default is `tweestap dev`'s SMS sink.
    sms_url: str = "http://127.0.0.1:2526/sms"
    #: Sent with every gateway request, e.g. ``Authorization: Bearer …``.
    sms_auth_header: SecretStr | None = None
    #: The `from` of every SMS (a name or number, as the gateway allows).
    sms_sender: str = "Tweestap"
    #: Field names of the gateway's JSON body for ``to``, ``from``, ``text``, ``reference``
    #: (rename as the gateway wants, e.g. ``{"to": "recipient", "text": "message"}``).
    sms_body_fields: dict[str, str] = Field(default_factory=dict)
    #: Constant fields added to every gateway request body (account id, route, …).
    sms_extra_fields: dict[str, str] = Field(default_factory=dict)
    #: Seconds one delivery attempt may take.
    send_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Seconds an application's back-channel logout URI has to answer a logout token (then the
    #: attempt is retried like any other transient failure).
    backchannel_timeout_seconds: float = Field(default=5.0, gt=0)
    #: At most this many of the `TWEESTAP_CONCURRENCY` delivery slots post back-channel logout
    #: tokens at once, so that a slow or unreachable application cannot hold up e-mail and SMS
    #: codes.
    backchannel_concurrency: int = Field(default=10, ge=1)
    #: With the defaults a message is retried for about ten minutes before it is given up.
    max_attempts: int = Field(default=10, ge=1, le=50)
    #: The wait after a message's first failed attempt; it doubles per attempt, with jitter.
    retry_base_seconds: float = Field(default=2.0, gt=0)
    #: The longest wait between two attempts.
    retry_max_seconds: float = Field(default=300.0, gt=0)
    #: Per e-mail address or phone number: at most ``rate_limit_count`` messages per
    #: ``rate_limit_window_seconds`` (back-channel logouts are not limited).
    rate_limit_count: int = Field(default=10, ge=1)
    #: See `TWEESTAP_RATE_LIMIT_COUNT` (per zone).
    rate_limit_window_seconds: int = Field(default=3600, ge=1)
    #: Messages delivered in parallel by one process.
    concurrency: int = Field(default=20, ge=1)
    #: The dispatcher wakes on every new request and finished delivery, and also looks for due
    #: messages (retries, expired leases) this often.
    dispatch_sweep_seconds: float = Field(default=1.0, gt=0)
    #: Finished messages (with their recipients) are deleted after this many days.
    message_retention_days: int = Field(default=7, ge=1)
