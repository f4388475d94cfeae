"""Settings → aiokafka connection arguments (shared/kafka_security.py), with a CA and a client
certificate made here with ``cryptography``."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.kafka_security import KafkaSecurityError, client_options
from shared.settings import Settings


def _certificate(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None = None, **kw: Any
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    return builder.sign(kw.get("signer", key), hashes.SHA256())


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, str]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Tweestap Test Kafka CA", ca_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _certificate("auth-a", client_key, ca.subject, signer=ca_key)
    files = {
        "kafka_ca_file": tmp_path / "ca.pem",
        "kafka_cert_file": tmp_path / "client.pem",
        "kafka_key_file": tmp_path / "client.key",
    }
    files["kafka_ca_file"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["kafka_cert_file"].write_bytes(client.public_bytes(serialization.Encoding.PEM))
    files["kafka_key_file"].write_bytes(
        client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {k: str(v) for k, v in files.items()}


def settings(**values: Any) -> Settings:
    return Settings(kafka_bootstrap="kafka-1:9093,kafka-2:9093", **values)


def test_plaintext_is_the_default_and_carries_no_credentials() -> None:
    assert client_options(settings()) == {
        "bootstrap_servers": "kafka-1:9093,kafka-2:9093",
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_ssl_scram_with_the_services_own_principal_and_a_verifying_context(
    tls_files: dict[str, str],
) -> None:
    options = client_options(
        settings(
            kafka_security_protocol="SASL_SSL",
            kafka_username="tweestap-auth",
            kafka_password="s3cret-of-auth",
            kafka_ca_file=tls_files["kafka_ca_file"],
        )
    )
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "kafka-1:9093,kafka-2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "tweestap-auth",
        "sasl_plain_password": "s3cret-of-auth",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    # The CA from the file is the one the context trusts.
    subjects = [str(c["subject"]) for c in context.get_ca_certs()]
    assert any("Tweestap Test Kafka CA" in s for s in subjects), subjects


def test_mutual_tls_loads_the_client_certificate(tls_files: dict[str, str]) -> None:
    options = client_options(settings(kafka_security_protocol="SSL", **tls_files))
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    mismatched = {**tls_files, "kafka_key_file": tls_files["kafka_ca_file"]}
    with pytest.raises(ssl.SSLError):
        client_options(settings(kafka_security_protocol="SSL", **mismatched))


def test_sasl_plaintext_scram_has_no_ssl_context() -> None:
    options = client_options(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_username="tweestap-certs",
            kafka_password="pw",
            kafka_sasl_mechanism="SCRAM-SHA-256",
        )
    )
    assert "ssl_context" not in options and options["sasl_mechanism"] == "SCRAM-SHA-256"


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "USERNAME"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_username": "u"}, "PASSWORD"),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_username": "u",
                "kafka_password": "p",
                "kafka_sasl_mechanism": "PLAIN",
            },
            "PLAIN",
        ),
        ({"kafka_username": "u", "kafka_password": "p"}, "PLAINTEXT"),
        ({"kafka_ca_file": "/etc/ssl/kafka-ca.pem"}, "PLAINTEXT"),
        ({"kafka_security_protocol": "SSL", "kafka_cert_file": "/c.pem"}, "KEY_FILE"),
    ],
)
def test_settings_that_do_not_fit_together_refuse_to_start(
    values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(KafkaSecurityError, match=complaint):
        client_options(settings(**values))


def test_the_password_is_a_secret_in_the_settings() -> None:
    configured = settings(kafka_username="u", kafka_password="hunter2")
    assert "hunter2" not in repr(configured) and "hunter2" not in str(configured.model_dump())
