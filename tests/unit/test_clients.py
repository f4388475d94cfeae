"""Relying-service credentials (services.auth.domain.clients): HTTP Basic per RFC 6749
§2.3.1, 256-bit secrets kept as SHA-256."""

from __future__ import annotations

import base64

from services.auth.domain.clients import (
    SECRET_BYTES,
    basic_credentials,
    new_secret,
    secret_hash,
    secret_matches,
)


def basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


def test_basic_credentials_are_form_urlencoded_parts() -> None:
    assert basic_credentials(basic("praktijk:geheim")) == ("praktijk", "geheim")
    # RFC 6749 §2.3.1: each part form-urlencoded, so a colon in the secret is %3A.
    assert basic_credentials(basic("praktijk:ge%3Ah+eim")) == ("praktijk", "ge:h eim")
    assert basic_credentials("basic " + basic("a:b").split()[1]) == ("a", "b")


def test_malformed_or_missing_credentials_are_none() -> None:
    for header in (
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic not-base64!",
        basic("no-colon"),
        basic(":secret"),
        basic("client:"),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ):
        assert basic_credentials(header) is None, header


def test_secrets_have_256_bits_and_only_their_hash_is_compared() -> None:
    secret = new_secret()
    assert len(base64.urlsafe_b64decode(secret + "=")) == SECRET_BYTES == 32
    assert new_secret() != secret
    hashed = secret_hash(secret)
    assert len(hashed) == 64 and secret not in hashed
    assert secret_matches(secret, hashed)
    assert not secret_matches(secret + "x", hashed)
    assert not secret_matches(secret, None), "no such client"
