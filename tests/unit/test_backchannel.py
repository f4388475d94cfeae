"""Back-channel logout requests and their delivery rules, pure: the request's shape, the URI
check, what the client's answer means, Retry-After within the backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.notifier.domain.delivery import (
    DeliveryError,
    RetryPolicy,
    backchannel_status,
    backchannel_uri,
    check_recipient,
    retry_after_seconds,
    transient,
    uri_host,
)
from services.notifier.settings import NotifierSettings
from shared.events import NotifyRequest, notify_aad
from shared.notify import backchannel_logout, backchannel_request_id
from shared.sealing import Keyring
from tests.support.cluster import SEALING

URI = "https://app.example.nl/oidc/backchannel-logout"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def request(**changes: Any) -> dict[str, Any]:
    return {
        "channel": "backchannel",
        "template": "backchannel_logout",
        "recipient": URI,
        "sealed": {"logout_token": "v1.k.sealed"},
        **changes,
    }


def test_a_backchannel_request_has_its_own_shape() -> None:
    NotifyRequest.model_validate(request())
    NotifyRequest.model_validate(request(recipient="https://a.nl/" + "x" * 1900))


@pytest.mark.parametrize(
    "changes",
    [
        {"template": "login_code"},
        {"sealed": {}},
        {"sealed": {"code": "v1.k.x"}},
        {"sealed": {"logout_token": "v1.k.x", "code": "v1.k.y"}},
        {"parameters": {"client": "x"}},
        {"recipient": "https://a.nl/" + "x" * 2000},
        {"channel": "email", "recipient": "piet@example.nl"},
    ],
)
def test_a_backchannel_request_is_refused_out_of_shape(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        NotifyRequest.model_validate(request(**changes))


def test_email_and_sms_recipients_stay_short() -> None:
    long = "p" * 250 + "@example.nl"
    with pytest.raises(ValidationError, match="254"):
        NotifyRequest(channel="email", template="login_code", recipient=long)


def test_the_helper_seals_the_token_under_a_request_id_of_session_and_client() -> None:
    settings = NotifierSettings(zone="a", sealing_keys=SEALING)
    keyring = Keyring.parse(SEALING)
    a = backchannel_logout(settings, keyring, "fysio", "s-1", "app", URI, "jwt.token.sig")
    b = backchannel_logout(settings, keyring, "fysio", "s-1", "app", URI, "other.token.sig")
    assert a.id == b.id == backchannel_request_id("s-1", "app")
    assert a.key == b.key and a.subject == str(a.id)
    assert backchannel_request_id("s-1", "other-app") != a.id
    assert backchannel_request_id("s-2", "app") != a.id
    body = NotifyRequest.model_validate(a.data)
    assert body.channel == "backchannel" and body.template == "backchannel_logout"
    assert body.recipient == URI and body.parameters == {}
    sealed = body.sealed["logout_token"]
    assert "jwt.token.sig" not in sealed
    opened = keyring.open(sealed, notify_aad("fysio", a.id, "logout_token"))
    assert opened == b"jwt.token.sig"


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        (URI, True),
        ("https://app.example.nl:8443/logout?tenant=7", True),
        ("http://127.0.0.1:8000/logout", True),
        ("http://localhost/logout", True),
        ("http://[::1]:8000/logout", True),
        ("https://app.example.nl/logout#frag", False),
        ("https://app.example.nl/logout#", False),
        ("ftp://app.example.nl/logout", False),
        ("com.example.app:/logout", False),
        ("/logout", False),
        ("https:///logout", False),
        ("https://app.example.nl/log out", False),
        ("https://app.example.nl/\nlogout", False),
        ("https://app.example.nl:99999/logout", False),
        ("https://[::1/logout", False),
    ],
)
def test_backchannel_uris(uri: str, ok: bool) -> None:
    assert backchannel_uri(uri) is ok
    if ok:
        check_recipient("backchannel", uri)
    else:
        with pytest.raises(DeliveryError) as caught:
            check_recipient("backchannel", uri)
        assert caught.value.reason == "invalid-recipient" and not caught.value.transient


def test_only_the_host_is_named() -> None:
    assert uri_host("https://user:pw@App.example.nl:8443/secret?x=1") == "app.example.nl"
    assert uri_host("https://[::1/x") == "?"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, None),
        (204, None),
        (201, "permanent"),
        (302, "permanent"),
        (400, "permanent"),
        (401, "permanent"),
        (404, "permanent"),
        (408, "transient"),
        (429, "transient"),
        (500, "transient"),
        (502, "transient"),
        (503, "transient"),
    ],
)
def test_what_the_clients_answer_means(status: int, outcome: str | None) -> None:
    error = backchannel_status(status, None)
    if outcome is None:
        assert error is None
    else:
        assert error is not None and error.reason == f"backchannel-{status}"
        assert error.transient is (outcome == "transient")


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30
    assert retry_after_seconds(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0
    for nonsense in (None, "", "soon", "-5", "1.5"):
        assert retry_after_seconds(nonsense, NOW) is None


def test_retry_after_is_honoured_within_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=1.0, max_seconds=60.0)
    asked = policy.delay(transient("backchannel-429", "x", retry_after=30), 1)
    assert asked == 30, "at least as long as the client asked"
    capped = policy.delay(transient("backchannel-503", "x", retry_after=86400), 1)
    assert capped == 60, "never longer than the longest wait"
    later = policy.delay(transient("backchannel-503", "x", retry_after=0), 4)
    assert later is not None and later >= 4, "not sooner than the backoff"
    assert policy.delay(transient("backchannel-429", "x", retry_after=5), 5) is None
    error = backchannel_status(429, 7.0)
    assert error is not None and error.retry_after == 7.0
