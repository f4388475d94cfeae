"""The web front door's OpenID Provider, its pure parts: what answers an authorization
request (the SSO session, a login, or an error for ``prompt=none``), the redirects back to a
client, the request kept in the session, the CSP sources and the forms read."""

from __future__ import annotations

from typing import Any

import pytest

from services.web import headers
from services.web.oidc import bodies, pending
from services.web.oidc.decision import Issue, Login, Refuse, Sso, decide, sso_of
from services.web.oidc.redirects import authorization_response, form_origin, with_query
from shared.oidc import AuthorizationError, AuthorizationRequest

NOW = 1_800_000_000.0
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def asked(**fields: Any) -> AuthorizationRequest:
    values: dict[str, Any] = {
        "client_id": "app",
        "redirect_uri": "https://app.example/cb",
        "scope": ("openid",),
        "code_challenge": CHALLENGE,
        "state": "s",
        **fields,
    }
    return AuthorizationRequest(**values)


def sso(age: float = 60, acr: str = "aal1", practice: str = "fysio") -> Sso:
    return Sso(sid="sid-1", auth_time=NOW - age, acr=acr, practice=practice)


@pytest.mark.parametrize(
    ("request_", "session", "fresh", "verdict"),
    [
        (asked(), None, False, Login(False)),
        (asked(acr_values=("aal2",)), None, False, Login(True)),
        (asked(prompt=frozenset({"none"})), None, False, Refuse("login_required", "")),
        (asked(), sso(), False, Issue()),
        (asked(prompt=frozenset({"none"})), sso(), False, Issue()),
        (asked(prompt=frozenset({"login"})), sso(), False, Login(False)),
        (asked(prompt=frozenset({"login"})), sso(), True, Issue()),
        (asked(max_age=60), sso(age=60), False, Issue()),
        (asked(max_age=60), sso(age=61), False, Login(False)),
        (asked(max_age=0), sso(age=5), True, Issue()),
        (asked(max_age=10, prompt=frozenset({"none"})), sso(age=11), False, Refuse("x", "")),
        (asked(acr_values=("aal2",)), sso(acr="aal1"), False, Login(True)),
        (asked(acr_values=("aal2",)), sso(acr="aal2"), False, Issue()),
        (asked(acr_values=("aal2",)), sso(acr="aal2-fallback"), False, Issue()),
        (asked(acr_values=("aal2", "aal1")), sso(acr="aal1"), False, Issue()),
        (asked(acr_values=("urn:unknown",)), sso(acr="aal1"), False, Issue()),
        (asked(acr_values=("aal2",)), sso(acr="aal1"), True, Refuse("access_denied", "")),
        (asked(login_hint="jan@fysio"), sso(), False, Issue()),
        (asked(login_hint="fysio"), sso(), False, Issue()),
        (asked(login_hint="jan@other"), sso(), False, Login(False)),
    ],
)
def test_what_answers_a_request(
    request_: AuthorizationRequest, session: Sso | None, fresh: bool, verdict: Any
) -> None:
    found = decide(request_, session, fresh, NOW)
    if isinstance(verdict, Refuse):
        assert isinstance(found, Refuse)
        if verdict.error != "x":
            assert found.error == verdict.error
        else:
            assert found.error == "interaction_required"
    else:
        assert found == verdict


def test_a_session_is_what_its_claims_say() -> None:
    claims = {"sid": "s", "auth_time": 100, "acr": "aal2", "practice": "fysio"}
    assert sso_of(claims) == Sso("s", 100.0, "aal2", "fysio")
    assert sso_of(None) is None
    assert sso_of({"auth_time": "100", "acr": "aal1"}) is None
    assert sso_of({"auth_time": 1}) is None


def test_the_answer_keeps_the_redirect_uris_query_and_names_the_issuer() -> None:
    plain = authorization_response("https://a.example/cb", "https://iss", "s t", code="c&d")
    assert plain == "https://a.example/cb?code=c%26d&state=s+t&iss=https%3A%2F%2Fiss"
    kept = authorization_response("https://a.example/cb?x=1", "https://iss", None, code="c")
    assert kept == "https://a.example/cb?x=1&code=c&iss=https%3A%2F%2Fiss"
    assert with_query("https://a.example/cb?", {"a": "1"}) == "https://a.example/cb?a=1"
    assert with_query("com.example.app:/cb", {"state": None}) == "com.example.app:/cb"


@pytest.mark.parametrize(
    ("uri", "origin"),
    [
        ("https://app.example/cb?x=1", "https://app.example"),
        ("http://localhost:8080/cb", "http://localhost:8080"),
        ("https://user:pw@app.example/cb", "https://app.example"),
        ("http://[::1]:9000/cb", "http://[::1]:9000"),
        ("com.example.app:/oauth", "com.example.app:"),
        ("https://app.example;script-src */cb", None),
        ("https://", None),
        ("https://app.example:99999/cb", None),
        ("java script:alert(1)", None),
    ],
)
def test_a_form_may_end_at_the_redirect_uris_origin_only(uri: str, origin: str | None) -> None:
    assert form_origin(uri) == origin


def test_the_csp_adds_form_targets_and_nothing_else() -> None:
    assert headers.csp() == headers.CSP
    policy = headers.csp(("https://app.example", "com.example.app:"))
    assert "form-action 'self' https://app.example com.example.app:;" in policy
    assert policy.replace(" https://app.example com.example.app:", "") == headers.CSP


def test_a_request_is_kept_until_answered_replaced_or_too_old() -> None:
    session: dict[str, Any] = {}
    first = pending.keep(
        session, asked(login_hint="jan@fysio", ui_locales=("de", "en-GB")), "App", NOW
    )
    assert pending.current(session, NOW + 10) == first
    assert first.request.login_hint == "jan@fysio" and first.client == "App"
    assert pending.hinted(first.request) == {"practice": "fysio", "username": "jan"}
    assert pending.hinted(asked(login_hint="fysio")) == {"practice": "fysio"}
    assert pending.locale_of(first.request) == "en"
    assert pending.form_targets(session) == ("https://app.example",)
    second = pending.keep(session, asked(state="other"), "App", NOW + 20)
    assert second.id != first.id and pending.current(session, NOW + 20) == second
    assert pending.for_login(session, first.id, NOW + 20) is None, "a form of the old request"
    assert pending.for_login(session, second.id, NOW + 20) == session[pending.KEY]
    assert pending.current(session, NOW + 20 + pending.PENDING_SECONDS + 1) is None
    assert pending.KEY not in session and pending.form_targets(session) == ()


def test_a_request_too_large_for_the_cookie_is_refused_and_a_damaged_one_dropped() -> None:
    session: dict[str, Any] = {}
    with pytest.raises(AuthorizationError) as refused:
        pending.keep(session, asked(state="s" * 2000), "App", NOW)
    assert refused.value.redirectable and pending.KEY not in session
    for damaged in ({"at": "x"}, {"at": NOW, "params": {}}, "junk", {"at": NOW + 3600}):
        session[pending.KEY] = damaged
        assert pending.current(session, NOW) is None and pending.KEY not in session


def test_a_login_made_for_the_request_is_noted() -> None:
    session: dict[str, Any] = {}
    assert pending.after_login(session, NOW) == "/factors"
    kept = pending.keep(session, asked(), "App", NOW)
    assert not kept.answered_by("sid-1")
    header = "eyJhbGciOiJFZERTQSJ9"
    payload = "eyJzaWQiOiJzaWQtMSIsImF1dGhfdGltZSI6MSwiYWNyIjoiYWFsMSJ9"  # {"sid":"sid-1",…}
    session["token"] = {"token": f"{header}.{payload}.c2ln"}
    assert pending.after_login(session, NOW) == pending.RESUME
    found = pending.current(session, NOW)
    assert found is not None and found.answered_by("sid-1") and not found.answered_by(None)


def test_a_form_is_read_in_order_with_its_repeats_and_refused_when_malformed() -> None:
    assert bodies.pairs(b"a=1&b=&a=2&c=x+y%26") == [
        ("a", "1"),
        ("b", ""),
        ("a", "2"),
        ("c", "x y&"),
    ]
    for bad in (b"a=%ff", b"\xff=1", b"a=%00", b"&".join([b"a=1"] * (bodies.MAX_FIELDS + 1))):
        with pytest.raises(bodies.BadBody):
            bodies.pairs(bad)
