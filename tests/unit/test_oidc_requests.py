"""The authorization request as shared/oidc.py reads it (issue 23): what is refused and how
(redirectable or shown at the provider), PKCE, ``acr_values`` and the claims a scope gives —
pure logic, and a property: any parameters at all give a request or an AuthorizationError."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import oidc

CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).rstrip(b"=").decode()
GOOD = {
    "response_type": ["code"],
    "client_id": ["app"],
    "redirect_uri": ["https://app.example/cb"],
    "scope": ["openid profile"],
    "code_challenge": [CHALLENGE],
    "code_challenge_method": ["S256"],
    "state": ["s1"],
    "nonce": ["n1"],
}


def read(**changes: list[str] | None) -> oidc.AuthorizationRequest:
    params = {**GOOD, **changes}
    return oidc.read_request(
        {k: v for k, v in params.items() if v is not None}, "https://app.example/cb"
    )


def refused(**changes: list[str] | None) -> oidc.AuthorizationError:
    with pytest.raises(oidc.AuthorizationError) as caught:
        read(**changes)
    return caught.value


def test_a_good_request_reads_and_writes_back_the_same() -> None:
    request = read(prompt=["login"], max_age=["60"], ui_locales=["en nl"], acr_values=["aal2"])
    assert request.scope == ("openid", "profile") and request.state == "s1"
    assert request.prompt == frozenset({"login"}) and request.max_age == 60
    params = {k: [v] for k, v in request.parameters().items()}
    assert oidc.read_request(params, request.redirect_uri) == request


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"response_type": ["token"]}, "unsupported_response_type"),
        ({"response_type": ["code id_token"]}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"scope": ["profile"]}, "invalid_scope"),
        ({"scope": ["openid admin"]}, "invalid_scope"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": ["plain"]}, "invalid_request"),
        ({"code_challenge": ["short"]}, "invalid_request"),
        ({"prompt": ["none login"]}, "invalid_request"),
        ({"prompt": ["sideways"]}, "invalid_request"),
        ({"max_age": ["-1"]}, "invalid_request"),
        ({"max_age": ["soon"]}, "invalid_request"),
        ({"response_mode": ["fragment"]}, "invalid_request"),
        ({"request": ["eyJ..."]}, "request_not_supported"),
        ({"request_uri": ["https://x"]}, "request_uri_not_supported"),
        ({"state": ["a", "b"]}, "invalid_request"),
        ({"nonce": ["x" * 3000]}, "invalid_request"),
        ({"state": ["line\nbreak"]}, "invalid_request"),
    ],
)
def test_refusals_go_back_to_the_client(changes: dict[str, list[str] | None], error: str) -> None:
    found = refused(**changes)
    assert found.error == error and found.redirectable


@pytest.mark.parametrize(
    "params",
    [
        {"redirect_uri": ["https://app.example/cb"]},
        {"client_id": ["a", "b"], "redirect_uri": ["https://app.example/cb"]},
        {"client_id": ["app"], "redirect_uri": ["https://a/", "https://b/"]},
        {"client_id": ["app\x00"]},
    ],
)
def test_a_fault_in_client_or_redirect_is_never_redirected(params: dict[str, list[str]]) -> None:
    with pytest.raises(oidc.AuthorizationError) as caught:
        oidc.client_and_redirect(params)
    assert not caught.value.redirectable


def test_pkce_s256() -> None:
    assert oidc.pkce_matches("v" * 43, CHALLENGE)
    assert not oidc.pkce_matches("w" * 43, CHALLENGE)
    assert not oidc.pkce_matches("v" * 42, CHALLENGE), "too short a verifier"
    assert not oidc.pkce_matches(None, CHALLENGE)


def test_acr_values_ask_the_lowest_known_level() -> None:
    assert oidc.acr_satisfied("aal2", ["aal2"])
    assert not oidc.acr_satisfied("aal1", ["aal2"])
    assert oidc.acr_satisfied("aal1", ["aal1", "aal2"]), "any of the values"
    assert oidc.acr_satisfied("aal1", ["urn:unknown"]), "unknown values ask nothing"
    assert oidc.acr_satisfied("aal2-fallback", ["aal2"])


def test_claims_follow_the_scope() -> None:
    person = {"sub": "e1", "practice": "p", "name": "An", "preferred_username": "an", "email": ""}
    assert oidc.claims_for(("openid",), person) == {"sub": "e1", "practice": "p"}
    assert oidc.claims_for(("openid", "profile", "email"), person) == {
        "sub": "e1",
        "practice": "p",
        "name": "An",
        "preferred_username": "an",
    }, "an empty e-mail is left out"


PARAM_NAMES = st.sampled_from([*oidc.PARAMETERS, "client_id", "junk"])


@given(st.dictionaries(PARAM_NAMES, st.lists(st.text(max_size=60), max_size=3), max_size=12))
def test_any_parameters_give_a_request_or_an_authorization_error(
    params: dict[str, list[str]],
) -> None:
    try:
        _, redirect_uri = oidc.client_and_redirect(params)
        oidc.read_request(params, redirect_uri or "https://app.example/cb")
    except oidc.AuthorizationError as error:
        assert error.error and error.description
