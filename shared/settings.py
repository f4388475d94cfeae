"""Typed settings read from the environment (prefix ``TWEESTAP_``), one class per service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.ratelimit import parse_networks

Zone = Literal["a", "b"]
#: The operations listener's default port is the public port plus this (8101 → 9101).
OPS_PORT_OFFSET = 1000


class TopicSettings(BaseSettings):
    """How topics are created at start (partitions, replication, retention, compaction)."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_TOPIC_", extra="ignore")

    #: Partitions of the topics the services create at start.
    partitions: int = Field(default=6, ge=1)
    #: Replication factor of the topics the services create (3 on a production cluster).
    replication_factor: int = Field(default=1, ge=1)
    #: `retention.ms` of the topics that are not compacted (7 days).
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)
    #: ``min.insync.replicas`` of every topic: with the producer's ``acks=all`` a write counts
    #: only once this many replicas have it (1 with dev's single broker; production: 2 with
    #: replication factor 3, so one broker may fail without losing an acknowledged event).
    min_insync_replicas: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _writable(self) -> TopicSettings:
        if self.min_insync_replicas > self.replication_factor:
            # Every acks=all write would be refused (NotEnoughReplicas).
            raise ValueError("min_insync_replicas must not exceed replication_factor")
        return self


class Settings(BaseSettings):
    """Settings every service shares. Service classes add their own fields."""

    model_config = SettingsConfigDict(env_prefix="TWEESTAP_", extra="ignore")

    service: str = "tweestap"
    #: This process's zone: in the `source` of its events (`auth@a`), its zone consumer groups, its
    #: signing keys' ids and its metrics. `tweestap serve --zone` wins.
    zone: Zone = "a"
    #: Address of the public API (`0.0.0.0` in containers).
    host: str = "127.0.0.1"
    #: Port of the public API; 0: the service's default for its zone (auth 8101 / 8201, enrolment
    #: 8102 / 8202, certs 8103 / 8203, notifier 8104 / 8204). `tweestap serve --port` wins.
    port: int = 0
    #: The operations listener (``/metrics``, ``/healthz``, ``/readyz``), apart from the public
    #: API so that metrics never reach the public port. Unset port: the public port + 1000
    #: (auth in zone a: 9101), or an ephemeral one when the public port is (tests).
    ops_host: str = "127.0.0.1"
    #: Port of the operations listener (see `TWEESTAP_OPS_HOST`); unset: the public port + 1000.
    ops_port: int | None = Field(default=None, ge=0, le=65535)
    #: Proxies (addresses or networks, e.g. ``["10.0.0.0/8"]``) whose ``X-Forwarded-For`` is
    #: believed for the client address (auth's login rate limit, the audit trail's actor);
    #: from anyone else the peer address counts.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: A rate limit's budget (auth's login limit) is per IPv4 address but per IPv6 network of
    #: this prefix length: one subscriber usually holds a whole /64 (``ratelimit.limit_key``).
    rate_limit_ipv6_prefix: int = Field(default=64, ge=1, le=128)
    #: The event loop a served process runs on: ``uvloop`` (libuv; less CPU per request on the
    #: hot paths) or ``asyncio`` (the standard library's selector loop).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    #: Processes of this service in this zone behind its one port (``tweestap serve --workers``
    #: overrides it). Above 1, ``tweestap serve`` supervises that many worker processes that
    #: bind the public and the operations port with ``SO_REUSEPORT`` and share the zone's
    #: database and consumer groups; per process: the login rate limit's budget, caches, the
    #: catching-up gate (docs/operate.md, "Scaling").
    workers: int = Field(default=1, ge=1, le=64)
    #: Bearer tokens whose signature this process has checked (or, in auth, made), remembered
    #: so that the same token's next request skips the Ed25519 check; 0 turns it off. Expiry,
    #: issuer and audience are checked on every use, and the session's liveness is always
    #: asked of the database.
    token_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    #: This service's database in this zone, as the role that serves requests (see
    #: `TWEESTAP_DATABASE_OWNER_URL`).
    database_url: str = "postgresql://postgres@localhost/tweestap"
    #: The role that owns the tables: it runs the migrations and the audit trail's retention
    #: purge, and grants ``database_url``'s role (the service's own, least privilege) reading
    #: and writing every table but the append-only ones (the audit trail: read and add only).
    #: Unset: ``database_url``'s role does everything, and the service warns at start that the
    #: audit trail is then not protected against it.
    database_owner_url: str | None = None
    #: Connections the database pool keeps open at least.
    database_pool_min: int = Field(default=2, ge=1)
    #: Connections the database pool opens at most.
    database_pool_max: int = Field(default=10, ge=1)
    #: Kafka bootstrap servers, `host:port[,host:port…]`.
    kafka_bootstrap: str = "127.0.0.1:9092"
    #: Prefix for every topic name, so that tests (and tenants of one cluster) do not collide.
    topic_prefix: str = ""
    #: Apache Kafka supports idempotent producers; the embedded dev broker does not.
    kafka_idempotent_producer: bool = False
    #: How long the broker may hold a fetch for more data: bounds consumer latency (the
    #: embedded broker answers late within this; Apache Kafka answers when data arrives).
    kafka_fetch_max_wait_ms: int = Field(default=100, ge=1, le=5000)
    #: How much data a consumer's fetch asks for before the broker may answer it early (else
    #: it answers at `TWEESTAP_KAFKA_FETCH_MAX_WAIT_MS`). 1: at once when there is any. A
    #: consumer fetches every partition it reads each time (auth: 48); under load more data
    #: is always there, and auth fetched 20 to 22 times a second instead of 10, each about 1.5
    #: ms of its event loop. Raised (e.g. 65536), fetches stay about one per wait and the loop
    #: spent about 8 % less per login (docs/performance.md), but every event from the other
    #: zone (a revocation, a failed login) may then wait up to the fetch wait longer.
    kafka_fetch_min_bytes: int = Field(default=1, ge=1, le=52_428_800)
    #: How often a consumer that keeps this zone's state commits the offsets it has applied
    #: (a work queue shared across zones commits after every batch). After a crash, what was
    #: applied since is read again and recognised by the inbox: no effect, no loss. 0: after
    #: every batch.
    kafka_commit_interval_ms: int = Field(default=1000, ge=0, le=60_000)
    #: How long a produce or metadata request may take before the relay retries it.
    kafka_request_timeout_seconds: float = Field(default=5.0, gt=0)
    #: The producer's largest request (aiokafka ``max_request_size``); keep it at or below the
    #: broker's ``message.max.bytes``. A larger event is moved to ``outbox_dead``.
    kafka_max_request_bytes: int = Field(default=1_048_576, ge=1024)
    #: The topic settings below as one JSON object, e.g. `{"partitions": 3}`.
    topics: TopicSettings = Field(default_factory=TopicSettings)
    #: Sealing keys as ``kid:base64key,kid:base64key``; the first is used to seal new data.
    sealing_keys: SecretStr = SecretStr("")
    #: Public halves of the deployment's trust key (``tweestap keygen --trust``), base64url,
    #: comma-separated during a rotation: a signing key on ``sts.keys`` counts only when
    #: signed by one of them (DESIGN §9). Required by every service that consumes ``sts.keys``.
    trust_public_keys: str = ""
    #: An event dated (``time``, or a replicated record's stamp) more than this many seconds
    #: beyond the consuming zone's clock is dead-lettered: a forged or broken writer cannot
    #: date a reset, an identity check or a setting into the future (DESIGN §5).
    event_max_skew_seconds: float = Field(default=120.0, ge=1, le=3600)
    #: A replicated record whose version exceeds the stored one (0 when none is stored) by
    #: more than this is dead-lettered, so that no writer can push a version out of reach of
    #: later edits. Each edit adds 1; raise it only for a record edited more often than this
    #: before a zone that never saw it reads it (a zone rebuilt from compacted topics).
    event_max_version_leap: int = Field(default=10_000, ge=1, le=1_000_000_000)
    #: Apply records without a valid ``tweestap-tag`` on topics that require one (each one is
    #: logged). Only while upgrading a deployment whose topics hold
    #: events from before tags (docs/adr/0001-authenticated-events-on-the-bus.md); off otherwise.
    bus_accept_untagged: bool = False
    #: Whether an untagged ``directory.employees`` upsert (a host system's) may create an
    #: employee of rights group 1 or raise one to it. Off: only Tweestap's own writers, whose
    #: upserts carry a tag made with the sealing keyring, can make an administrator.
    directory_host_admins: bool = False
    # Kafka client security (every producer, consumer and admin client, shared/kafka_security.py).
    #: How every Kafka client connects (`SASL_SSL` in production). Settings that contradict each
    #: other (a username without SASL, TLS files without TLS) stop the service at start.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    #: The SASL mechanism; `PLAIN` only over `SASL_SSL`.
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    #: This service's own principal (one per service) and its password.
    kafka_username: str = ""
    #: The password of `TWEESTAP_KAFKA_USERNAME`.
    kafka_password: SecretStr = SecretStr("")
    #: CA bundle that signed the brokers' certificates (SSL, SASL_SSL); empty: system CAs.
    kafka_ca_file: str = ""
    #: Client certificate and key (PEM) when the brokers ask for one (mutual TLS).
    kafka_cert_file: str = ""
    #: The key of `TWEESTAP_KAFKA_CERT_FILE` (PEM): both or neither.
    kafka_key_file: str = ""
    #: The outbox relay wakes on every `NOTIFY outbox` and also looks for rows this often (a missed
    #: notification delays an event by one sweep at most).
    outbox_sweep_seconds: float = Field(default=2.0, gt=0)
    #: The outbox relay counts its backlog and the dead rows (three queries, for the gauges
    #: ``tweestap_outbox_backlog``, ``_outbox_dead_rows``, ``_dead_letter_rows``) at most
    #: this often, not after every wake-up.
    outbox_gauge_seconds: float = Field(default=1.0, gt=0)
    #: The outbox relay starts a drain at most this often (0: at once on every notification).
    #: Raised, under load one drain publishes several transactions' events together (fewer
    #: round trips and produce requests per event), and every event may wait up to this long
    #: more before the other zone can see it; an idle relay still drains at once.
    outbox_pace_seconds: float = Field(default=0.0, ge=0, le=1)
    #: Tries of an event whose handler fails for a reason not known to be the event's (nor the
    #: database's or broker's) before it is dead-lettered; the wait between tries starts at
    #: ``consumer_backoff_seconds`` and doubles.
    consumer_attempts: int = Field(default=5, ge=1, le=100)
    #: The first wait between the tries of `TWEESTAP_CONSUMER_ATTEMPTS`; it doubles.
    consumer_backoff_seconds: float = Field(default=0.2, ge=0, le=60)
    #: Readiness says no while a consumer is more than this many messages behind.
    consumer_max_lag: int = Field(default=10_000, ge=0)
    #: The longest a consumer counts as catching up (readiness no; auth answers 503
    #: ``catching-up``) after it started on a database that has consumed before, or after its
    #: database failed. Past it the zone serves with what it has (a broker that cannot be
    #: reached must not keep a zone closed for ever); ``tweestap_catching_up`` stays 1 and a
    #: warning is logged until the consumer has read to the end.
    catch_up_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: A process whose event loop did not run for longer than this (stopped by SIGSTOP, a
    #: paused VM, a frozen host) may have missed events on the bus: its consumers count as
    #: catching up from the moment it runs again, until read to the end.
    stall_seconds: float = Field(default=3.0, gt=0, le=600)
    #: The consumer group's session timeout and heartbeat interval: how soon the broker gives
    #: a killed member's partitions to another (a restarted process waits for this).
    kafka_session_timeout_ms: int = Field(default=6_000, ge=1_000, le=300_000)
    #: The consumers' heartbeat; below the session timeout.
    kafka_heartbeat_interval_ms: int = Field(default=2_000, ge=100, le=100_000)
    #: Whether readiness says no while the broker cannot be reached. Off: requests are served
    #: and events wait in the outbox (readiness is 200 with ``status: degraded``); on for a
    #: service that has no work without the broker (the notifier).
    ready_needs_broker: bool = False
    #: A background task that failed is restarted after this wait, doubling on every failure
    #: up to ``task_restart_max_seconds`` (back to the start once it has run that long).
    task_restart_seconds: float = Field(default=1.0, gt=0, le=600)
    #: The longest wait before a failed background task is restarted (see
    #: `TWEESTAP_TASK_RESTART_SECONDS`).
    task_restart_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: Outbox rows the relay publishes at a time.
    outbox_batch: int = Field(default=500, ge=1)
    #: The largest request body; larger: 413 `payload-too-large`.
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    #: RFC 9068 ``aud`` of Tweestap's access tokens: auth issues it, and auth, enrolment and
    #: certs accept only tokens for it (the same value in every service of both zones).
    token_audience: str = "https://tweestap.nl/api"  # noqa: S105 (a name, not a secret)
    #: Level of the JSON log lines on stderr (`DEBUG`, `INFO`, `WARNING`, …).
    log_level: str = "INFO"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # ValueError for anything not an address or network
        return value

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> Settings:
        if self.kafka_heartbeat_interval_ms >= self.kafka_session_timeout_ms:
            raise ValueError("kafka_heartbeat_interval_ms must be below kafka_session_timeout_ms")
        return self

    @property
    def source(self) -> str:
        """The envelope ``source`` of events this process writes: ``service@zone``."""
        return f"{self.service}@{self.zone}"

    def ops_listen_port(self) -> int:
        """The port of the operations listener (0: ephemeral)."""
        if self.ops_port is not None:
            return self.ops_port
        if not self.port:
            return 0
        if self.port + OPS_PORT_OFFSET > 65535:
            raise ValueError(f"set TWEESTAP_OPS_PORT: port {self.port} + {OPS_PORT_OFFSET} > 65535")
        return self.port + OPS_PORT_OFFSET

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def consumer_group(self, purpose: str) -> str:
        """A zone-specific consumer group: every zone reads state topics in full."""
        return f"{self.topic_prefix}{self.service}-{self.zone}-{purpose}"

    def shared_group(self, purpose: str) -> str:
        """One group across zones, for work topics: each message is handled by one zone."""
        return f"{self.topic_prefix}{self.service}-{purpose}"
