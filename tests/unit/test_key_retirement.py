"""A signing key is trusted until its ``retire_at`` and never from then on (Hardening II
finding 16, shared.tokens.TokenVerifier): not added when already retired, forgotten when it
retires while the process runs (remembered tokens too), without a reload."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from services.auth.adapters.signer import SigningKey, UnknownKey
from shared.tokens import PublicJwk, TokenVerifier
from tests.support.signing import check, claims, signer

NOW = datetime.now(UTC)


def token_of(key: SigningKey) -> str:
    return signer(key, cache_size=0).sign(claims(), datetime.now(UTC))


def test_a_key_announced_already_retired_is_not_trusted() -> None:
    key = SigningKey.generate("a", NOW)
    v = TokenVerifier(100)
    for retire_at in (datetime.now(UTC) - timedelta(minutes=1), datetime.now(UTC)):
        v.add_public_key(key.public_jwk(), retire_at)
        assert not v.knows(key.kid)
        with pytest.raises(UnknownKey):
            check(v, token_of(key))


def test_an_announcement_that_retires_a_known_key_forgets_it() -> None:
    key = SigningKey.generate("a", NOW)
    token = token_of(key)
    v = TokenVerifier(100)
    v.add_public_key(key.public_jwk())
    check(v, token)
    assert v.remembers(token)
    v.add_public_key(key.public_jwk(), datetime.now(UTC) - timedelta(seconds=1))
    assert not v.knows(key.kid) and v.remembered == 0
    with pytest.raises(UnknownKey):
        check(v, token)


def test_a_loaded_key_is_refused_from_its_retire_at_without_a_reload() -> None:
    retiring, staying = SigningKey.generate("a", NOW), SigningKey.generate("b", NOW)
    v = TokenVerifier(100)
    retire_at = datetime.now(UTC) + timedelta(seconds=0.5)
    v.set_public_keys(
        [PublicJwk(retiring.public_jwk(), retire_at), PublicJwk(staying.public_jwk(), None)]
    )
    old, other = token_of(retiring), token_of(staying)
    check(v, old)
    check(v, other)
    assert v.remembers(old)
    time.sleep(max(0.0, (retire_at - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(UnknownKey):
        check(v, old)  # remembered as checked before, refused all the same
    assert not v.knows(retiring.kid)
    assert check(v, other)["sub"] == "emp-1", "a key that does not retire stays"


def test_an_added_key_is_refused_from_its_retire_at() -> None:
    key = SigningKey.generate("a", NOW)
    v = TokenVerifier(100)
    retire_at = datetime.now(UTC) + timedelta(seconds=0.5)
    v.add_public_key(key.public_jwk(), retire_at)
    token = token_of(key)
    check(v, token)
    time.sleep(max(0.0, (retire_at - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(UnknownKey):
        check(v, token)


def test_the_jwks_carries_no_retire_at() -> None:
    key = SigningKey.generate("a", NOW)
    jwk = PublicJwk(key.public_jwk(), NOW)
    assert jwk == key.public_jwk() and "retire_at" not in jwk and jwk.retire_at == NOW
