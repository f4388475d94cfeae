"""Remembered tokens (shared.tokens.TokenVerifier): a token whose signature was checked, or
that auth just signed, skips the Ed25519 check next time, but never what may have changed
since: expiry, issuer and audience are checked on every use, and the memory goes when a key
goes or changes."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest

from services.auth.adapters.signer import InvalidToken, SigningKey, UnknownKey
from shared.tokens import TokenVerifier
from tests.support.signing import AUDIENCE, ISSUER, check, claims, signer

NOW = datetime.now(UTC)


def verifier(*keys: SigningKey, cache_size: int = 100) -> TokenVerifier:
    v = TokenVerifier(cache_size)
    v.set_public_keys([k.public_jwk() for k in keys])
    return v


def forged(token: str) -> str:
    """The same header and signature over another payload (another subject)."""
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(b'{"sub":"emp-2"}').rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def test_a_checked_token_is_remembered_and_answers_the_same_claims() -> None:
    key = SigningKey.generate("a", NOW)
    token = signer(key, cache_size=0).sign(claims(), NOW)
    v = verifier(key)
    first = check(v, token)
    assert v.remembered == 1
    again = check(v, token)
    assert again == first
    # A copy each time: a caller changing its claims changes nothing remembered.
    again["sub"] = "someone-else"
    assert check(v, token)["sub"] == "emp-1"


def test_a_token_signed_here_is_remembered_at_once() -> None:
    key = SigningKey.generate("a", NOW)
    s = signer(key)
    token = s.sign(claims(), NOW)
    assert s.remembered == 1
    assert check(s, token)["sub"] == "emp-1"


def test_another_payload_with_a_remembered_signature_is_still_refused() -> None:
    key = SigningKey.generate("a", NOW)
    s = signer(key)
    token = s.sign(claims(), NOW)
    with pytest.raises(InvalidToken):
        check(s, forged(token))


def test_expiry_is_checked_on_every_use() -> None:
    key = SigningKey.generate("a", NOW)
    s = signer(key)
    token = s.sign(claims(exp=int(time.time()) - 5), NOW)
    # Within a leeway of 60 s the token is still good; with none it has expired.
    assert s.signed_claims(token, ISSUER, AUDIENCE, 60)["sub"] == "emp-1"
    assert s.remembers(token)
    with pytest.raises(InvalidToken, match="expired"):
        check(s, token)
    assert s.remembered == 0


def test_another_audience_is_refused_although_remembered() -> None:
    key = SigningKey.generate("a", NOW)
    s = signer(key)
    token = s.sign(claims(), NOW)
    with pytest.raises(InvalidToken, match=r"[Aa]udience"):
        check(s, token, audience="https://other.example/api")


def test_a_key_that_goes_takes_its_remembered_tokens_with_it() -> None:
    old, new = SigningKey.generate("a", NOW), SigningKey.generate("b", NOW)
    v = verifier(old, new)
    token = signer(old, cache_size=0).sign(claims(), NOW)
    check(v, token)
    v.set_public_keys([new.public_jwk()])  # a newly known key alone keeps the memory
    assert v.remembered == 0
    with pytest.raises(UnknownKey):
        check(v, token)


def test_a_new_key_keeps_what_is_remembered() -> None:
    old, new = SigningKey.generate("a", NOW), SigningKey.generate("b", NOW)
    v = verifier(old)
    check(v, signer(old, cache_size=0).sign(claims(), NOW))
    v.set_public_keys([old.public_jwk(), new.public_jwk()])
    v.add_public_key(new.public_jwk())
    assert v.remembered == 1


def test_a_key_id_with_another_key_forgets_everything() -> None:
    key = SigningKey.generate("a", NOW)
    v = verifier(key)
    check(v, signer(key, cache_size=0).sign(claims(), NOW))
    impostor = SigningKey.generate("a", NOW)
    v.add_public_key({**impostor.public_jwk(), "kid": key.kid})
    assert v.remembered == 0


def test_the_memory_is_bounded_least_recently_used_first_out() -> None:
    key = SigningKey.generate("a", NOW)
    s = signer(key, cache_size=0)
    v = verifier(key, cache_size=2)
    tokens = [s.sign(claims(sub=f"emp-{i}"), NOW) for i in range(3)]
    check(v, tokens[0])
    check(v, tokens[1])
    check(v, tokens[0])  # now the most recent
    check(v, tokens[2])  # pushes out tokens[1]
    assert v.remembered == 2
    assert [v.remembers(t) for t in tokens] == [True, False, True]


def test_off_remembers_nothing() -> None:
    key = SigningKey.generate("a", NOW)
    s = signer(key, cache_size=0)
    check(s, s.sign(claims(), NOW))
    assert s.remembered == 0
