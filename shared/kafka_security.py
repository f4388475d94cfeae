"""How every Kafka client of Tweestap connects: one place turns the settings into aiokafka's
connection arguments, so a producer, a consumer and an admin client cannot differ in how they
authenticate (DESIGN §9: SASL_SSL with SCRAM-SHA-512 and TLS when configured; each service has
its own principal)."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from shared.settings import Settings

_TLS = frozenset({"SSL", "SASL_SSL"})
_SASL = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


class KafkaSecurityError(ValueError):
    """The Kafka security settings do not make sense together."""


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A TLS client context that verifies the brokers (hostname and chain, against the
    configured CA or the system's), TLS 1.2 at least, with a client certificate if set."""
    if bool(settings.kafka_cert_file) != bool(settings.kafka_key_file):
        raise KafkaSecurityError("TWEESTAP_KAFKA_CERT_FILE and TWEESTAP_KAFKA_KEY_FILE go together")
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ca_file or None,
        certfile=settings.kafka_cert_file or None,
        keyfile=settings.kafka_key_file or None,
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and
    ``AIOKafkaAdminClient``: the brokers and how to authenticate to them."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": protocol,
    }
    if protocol in _TLS:
        options["ssl_context"] = ssl_context(settings)
    elif settings.kafka_ca_file or settings.kafka_cert_file:
        raise KafkaSecurityError(
            f"TLS files are set but TWEESTAP_KAFKA_SECURITY_PROTOCOL is {protocol}"
        )
    password = settings.kafka_password.get_secret_value()
    if protocol in _SASL:
        if not settings.kafka_username or not password:
            raise KafkaSecurityError(
                f"{protocol} needs TWEESTAP_KAFKA_USERNAME and TWEESTAP_KAFKA_PASSWORD"
            )
        if protocol == "SASL_PLAINTEXT" and settings.kafka_sasl_mechanism == "PLAIN":
            # PLAIN sends the password itself: only inside TLS.
            raise KafkaSecurityError("SASL mechanism PLAIN is allowed only over SASL_SSL")
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_username,
            sasl_plain_password=password,
        )
    elif settings.kafka_username or password:
        raise KafkaSecurityError(
            f"a Kafka username or password is set but the protocol is {protocol}"
        )
    return options
