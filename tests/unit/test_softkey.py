"""The test authenticator answers as a browser would: py_webauthn accepts its registration
and its assertions, and refuses a tampered one (so tests built on it can fail)."""

from __future__ import annotations

import json

import pytest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse

from tests.support.softkey import SoftAuthenticator, unb64url

ORIGIN = "http://localhost:8100"


def _registered() -> tuple[SoftAuthenticator, bytes]:
    key = SoftAuthenticator()
    options = generate_registration_options(rp_id="localhost", rp_name="T", user_name="an")
    credential = key.register(json.loads(options_to_json(options)))
    verified = verify_registration_response(
        credential=credential,
        expected_challenge=options.challenge,
        expected_origin=ORIGIN,
        expected_rp_id="localhost",
    )
    assert verified.credential_id == unb64url(key.credential_id)
    assert verified.user_verified
    return key, verified.credential_public_key


def test_assertions_verify_and_the_counter_goes_forward() -> None:
    key, public_key = _registered()
    for expected in (1, 2):
        options = generate_authentication_options(rp_id="localhost")
        verified = verify_authentication_response(
            credential=key.authenticate(json.loads(options_to_json(options))),
            expected_challenge=options.challenge,
            expected_origin=ORIGIN,
            expected_rp_id="localhost",
            credential_public_key=public_key,
            credential_current_sign_count=expected - 1,
        )
        assert verified.new_sign_count == expected


def test_a_wrong_origin_or_challenge_is_refused() -> None:
    key, public_key = _registered()
    options = generate_authentication_options(rp_id="localhost")
    as_json = json.loads(options_to_json(options))
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication_response(
            credential=key.authenticate(as_json, origin="http://evil.example"),
            expected_challenge=options.challenge,
            expected_origin=ORIGIN,
            expected_rp_id="localhost",
            credential_public_key=public_key,
            credential_current_sign_count=0,
        )
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication_response(
            credential=key.authenticate(as_json),
            expected_challenge=b"another challenge",
            expected_origin=ORIGIN,
            expected_rp_id="localhost",
            credential_public_key=public_key,
            credential_current_sign_count=0,
        )
