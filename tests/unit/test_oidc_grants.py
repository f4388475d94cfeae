"""Sealed codes, refresh tokens and pushed requests (services/auth/domain/oidc.py, issue 23):
each opens only for its client, within its life, unaltered; a refresh family's reuse rule;
form parameters as OAuth reads them. Pure logic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.auth.domain import oidc as sealed
from services.auth.domain.oauth import OAuthError, form_values
from shared.sealing import Keyring, generate_key

KEYRING = Keyring.parse(f"k1:{generate_key()}")
NOW = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)
SSO = sealed.SsoSession("s1", "fysio", "e1", 2, ("pwd", "otp"), "aal2", NOW, "substantial")


def code() -> sealed.Code:
    return sealed.new_code(SSO, "app", "https://app.example/cb", ("openid",), "c" * 43, "n", NOW)


def test_a_code_opens_for_its_client_within_its_minute() -> None:
    issued = code()
    value = sealed.seal_code(KEYRING, issued)
    opened = sealed.open_code(KEYRING, value, "app", NOW + timedelta(seconds=59))
    assert opened == issued
    assert opened.sso.auth_time == NOW, "the session start to the microsecond"
    for client, at in (("other", NOW), ("app", NOW + timedelta(seconds=60))):
        with pytest.raises(sealed.Unusable):
            sealed.open_code(KEYRING, value, client, at)


def test_an_altered_or_foreign_code_does_not_open() -> None:
    value = sealed.seal_code(KEYRING, code())
    other = Keyring.parse(f"k1:{generate_key()}")
    tampered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    for candidate, ring in ((tampered, KEYRING), (value, other), ("garbage", KEYRING)):
        with pytest.raises(sealed.Unusable):
            sealed.open_code(ring, candidate, "app", NOW)
    refresh = sealed.seal_refresh(
        KEYRING, sealed.first_refresh("g1", SSO, "app", ("openid",), NOW + timedelta(hours=1))
    )
    with pytest.raises(sealed.Unusable):  # a refresh token is no code
        sealed.open_code(KEYRING, refresh, "app", NOW)


def test_a_refresh_token_ends_with_its_session() -> None:
    first = sealed.first_refresh("g1", SSO, "app", ("openid",), NOW + timedelta(hours=1))
    value = sealed.seal_refresh(KEYRING, first)
    assert sealed.open_refresh(KEYRING, value, "app", NOW) == first
    with pytest.raises(sealed.Unusable):
        sealed.open_refresh(KEYRING, value, "app", NOW + timedelta(hours=1))
    with pytest.raises(sealed.Unusable):
        sealed.open_refresh(KEYRING, value, "other", NOW)


def test_reuse_is_an_older_generation_or_a_fork() -> None:
    first = sealed.first_refresh("g1", SSO, "app", (), NOW)
    second = first.next()
    assert second.generation == 2 and second.token_id != first.token_id
    assert not sealed.reused(first, None, None), "a family this zone has not seen"
    assert not sealed.reused(first, 1, first.token_id), "the current token"
    assert not sealed.reused(second, 1, first.token_id), "newer than this zone knows"
    assert sealed.reused(first, 2, second.token_id), "an older generation"
    fork = replace(second, token_id="other")
    assert sealed.reused(fork, 2, second.token_id), "the other zone rotated the same one"


def test_a_pushed_request_is_its_clients_for_a_minute() -> None:
    value = sealed.seal_pushed(KEYRING, "app", {"scope": "openid"}, NOW)
    assert sealed.open_pushed(KEYRING, value, "app", NOW) == {"scope": "openid"}
    with pytest.raises(sealed.Unusable):
        sealed.open_pushed(KEYRING, value, "other", NOW)
    with pytest.raises(sealed.Unusable):
        sealed.open_pushed(KEYRING, value, "app", NOW + timedelta(seconds=61))


def test_form_values_refuse_repeats_and_drop_empties() -> None:
    assert form_values({"a": ["1"], "b": [""]}) == {"a": "1"}
    for bad in ({"a": ["1", "2"]}, {"a": ["x" * 9000]}, {"a": ["\x00"]}):
        with pytest.raises(OAuthError) as caught:
            form_values(bad)
        assert caught.value.error == "invalid_request"
