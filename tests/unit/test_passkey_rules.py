"""The pure rules of passkey registration (services/enrolment/domain/passkey.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.enrolment.domain.passkey import (
    DEFAULT_NAME,
    Registration,
    credential_body,
    registration_refusal,
    user_handle,
)

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
KEY = b"k" * 32


def test_a_registration_is_answered_once_before_it_expires() -> None:
    fresh = Registration(b"c", NOW + timedelta(seconds=1), used=False)
    assert registration_refusal(fresh, NOW) is None
    assert registration_refusal(None, NOW) == "unknown-registration"
    used = Registration(b"c", NOW + timedelta(seconds=1), used=True)
    assert registration_refusal(used, NOW) == "registration-used"
    assert registration_refusal(fresh, NOW + timedelta(seconds=1)) == "registration-expired"


def test_the_user_handle_is_stable_opaque_and_per_employee() -> None:
    handle = user_handle(KEY, "fysio", "piet01")
    assert handle == user_handle(KEY, "fysio", "piet01") and len(handle) == 32
    assert b"piet" not in handle
    assert handle != user_handle(KEY, "fysio", "piet02")
    assert handle != user_handle(KEY, "other", "piet01")
    assert handle != user_handle(b"x" * 32, "fysio", "piet01"), "keyed: not guessable"


def test_the_sealed_credential_has_the_contract_shape() -> None:
    body = credential_body(b"\xff\x00", b"\x01", 7, ["usb"], False, None)
    assert body == {
        "credential_id": "_wA",
        "public_key": "AQ",
        "sign_count": 7,
        "transports": ["usb"],
        "user_verified": False,
        "name": DEFAULT_NAME,
    }
    assert credential_body(b"i", b"k", 0, [], True, "Sleutel")["name"] == "Sleutel"
