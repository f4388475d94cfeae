"""The login's second factors share one shape and one registry; the pure passkey rules."""

from __future__ import annotations

from typing import Any, cast

from services.auth.domain import passkeys
from services.auth.domain.passkeys import StoredPasskey
from services.auth.factors import registry
from shared.factor_kinds import ENROLLED as FACTOR_ORDER


def test_every_factor_kind_and_the_fallback_have_one_method() -> None:
    # The methods only hold their tools until called: no I/O to build the registry.
    found = registry.default(*[cast(Any, None)] * 7)
    for kind in (*FACTOR_ORDER, "certificate"):
        method = found.get(kind)
        assert method is not None, kind
        assert kind in method.kinds
    assert found.get("password") is None
    # Only TOTP completes a login at its enrol step; passkey and fallback need the password step.
    assert [k for k in FACTOR_ORDER if found.get(k).completes_enrolment] == ["totp"]  # type: ignore[union-attr]
    assert found.get("passkey").stages == ("second_factor",)  # type: ignore[union-attr]


def _sealed(credential_id: str, count: int = 0) -> dict[str, Any]:
    return {
        "credential_id": credential_id,
        "public_key": "pQECAyYgASFYIA",
        "sign_count": count,
        "transports": ["internal", "usb"],
        "user_verified": True,
        "name": "Laptop",
    }


def test_an_assertion_names_one_of_the_employees_passkeys() -> None:
    stored = [StoredPasskey.from_sealed(f"f{i}", _sealed(f"cred{i}")) for i in range(3)]
    assert passkeys.named(stored, "cred1") is stored[1]
    assert passkeys.named(stored, "cred1==") is stored[1]  # padding does not matter
    assert passkeys.named(stored, "cred9") is None
    assert stored[0].transports == ("internal", "usb") and stored[0].name == "Laptop"


def test_the_counter_to_exceed_is_the_highest_known() -> None:
    assert passkeys.current_count(0, None) == 0
    assert passkeys.current_count(5, None) == 5
    assert passkeys.current_count(5, 9) == 9
    assert passkeys.current_count(9, 5) == 9
