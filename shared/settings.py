"""Typed settings read from the environment (prefix ``TWEESTAP_``), one class per service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Zone = Literal["a", "b"]


class TopicSettings(BaseSettings):
    """How topics are created at start (partitions, replication, retention, compaction)."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_TOPIC_", extra="ignore")

    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)


class Settings(BaseSettings):
    """Settings every service shares. Service classes add their own fields."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_", extra="ignore")

    service: str = "tweestap"
    zone: Zone = "a"
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = "postgresql://postgres@localhost/tweestap"
    database_pool_min: int = Field(default=2, ge=1)
    database_pool_max: int = Field(default=10, ge=1)
    kafka_bootstrap: str = "127.0.0.1:9092"
    #: Prefix for every topic name, so that tests (and tenants of one cluster) do not collide.
    topic_prefix: str = ""
    #: Apache Kafka supports idempotent producers; the embedded dev broker does not.
    kafka_idempotent_producer: bool = False
    #: How long the broker may hold a fetch for more data: bounds consumer latency (the
    #: embedded broker answers late within this; Apache Kafka answers when data arrives).
    kafka_fetch_max_wait_ms: int = Field(default=100, ge=1, le=5000)
    #: How long a produce or metadata request may take before the relay retries it.
    kafka_request_timeout_seconds: float = Field(default=5.0, gt=0)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    #: Sealing keys as ``kid:base64key,kid:base64key``; the first is used to seal new data.
    sealing_keys: SecretStr = SecretStr("")
    #: Public halves of the deployment's trust key (``tweestap keygen --trust``), base64url,
    #: comma-separated during a rotation: a signing key on ``sts.keys`` counts only when
    #: signed by one of them (DESIGN §9). Required by every service that consumes ``sts.keys``.
    trust_public_keys: str = ""
    #: Whether an untagged ``directory.employees`` upsert (a host system's) may create an
    #: employee of rights group 1 or raise one to it. Off: only Tweestap's own writers, whose
    #: upserts carry a tag made with the sealing keyring, can make an administrator.
    directory_host_admins: bool = False
    # Kafka client security (every producer, consumer and admin client, shared/kafka_security.py).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    #: This service's own principal (one per service) and its password.
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")
    #: CA bundle that signed the brokers' certificates (SSL, SASL_SSL); empty: system CAs.
    kafka_ca_file: str = ""
    #: Client certificate and key (PEM) when the brokers ask for one (mutual TLS).
    kafka_cert_file: str = ""
    kafka_key_file: str = ""
    outbox_sweep_seconds: float = Field(default=2.0, gt=0)
    outbox_batch: int = Field(default=500, ge=1)
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    #: RFC 9068 ``aud`` of Tweestap's access tokens: auth issues it, and auth, enrolment and
    #: certs accept only tokens for it (the same value in every service of both zones).
    token_audience: str = "https://tweestap.nl/api"  # noqa: S105 (a name, not a secret)
    log_level: str = "INFO"

    @property
    def source(self) -> str:
        """The envelope ``source`` of events this process writes: ``service@zone``."""
        return f"{self.service}@{self.zone}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def consumer_group(self, purpose: str) -> str:
        """A zone-specific consumer group: every zone reads state topics in full."""
        return f"{self.topic_prefix}{self.service}-{self.zone}-{purpose}"

    def shared_group(self, purpose: str) -> str:
        """One group across zones, for work topics: each message is handled by one zone."""
        return f"{self.topic_prefix}{self.service}-{purpose}"
