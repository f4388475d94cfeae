"""The trust key's signatures over key announcements and the directory's tag (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.consumer import InvalidEvent
from shared.directory_trust import DirectoryTrust, makes_admin, tag_valid, tagged
from shared.events import EmployeeUpserted
from shared.sealing import Keyring, generate_key
from shared.trust import TrustKeyError, TrustSigner, TrustVerifier, generate, public_half

ANNOUNCEMENT: dict[str, Any] = {
    "kid": "a-20261128-0123abcd",
    "zone": "a",
    "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "a-20261128-0123abcd"},
    "created_at": "2026-11-28T09:00:00Z",
    "retire_at": None,
}


def test_a_signed_announcement_verifies_and_any_change_breaks_it() -> None:
    private, public = generate()
    assert public_half(private) == public
    signed = TrustSigner(private).sign(ANNOUNCEMENT)
    verifier = TrustVerifier.parse(public)
    assert verifier.verify(signed)
    # Key order does not matter (canonical JSON), every value does.
    assert verifier.verify(dict(reversed(list(signed.items()))))
    assert not verifier.verify({**signed, "zone": "b"})
    assert not verifier.verify({**signed, "retire_at": "2026-11-29T00:00:00Z"})
    assert not verifier.verify({**signed, "jwk": {**ANNOUNCEMENT["jwk"], "x": "abd"}})
    assert not verifier.verify(ANNOUNCEMENT)  # unsigned
    assert not verifier.verify({**signed, "signature": "not base64 !"})
    assert not verifier.verify({**signed, "signature": 42})


def test_only_a_configured_trust_key_verifies() -> None:
    ours, ours_public = generate()
    theirs, _ = generate()
    forged = TrustSigner(theirs).sign(ANNOUNCEMENT)
    assert not TrustVerifier.parse(ours_public).verify(forged)
    # During a rotation both public halves are configured: either verifies.
    _, next_public = generate()
    both = TrustVerifier.parse(f"{next_public}, {ours_public}")
    assert both.verify(TrustSigner(ours).sign(ANNOUNCEMENT))
    assert both.trusts(ours_public) and not both.trusts(public_half(theirs))


@pytest.mark.parametrize("spec", ["", " , ", "not-a-key", "AAAA"])
def test_missing_or_malformed_trust_keys_refuse_to_start(spec: str) -> None:
    with pytest.raises(TrustKeyError):
        TrustVerifier.parse(spec)


def test_a_signer_needs_a_private_key() -> None:
    with pytest.raises(TrustKeyError):
        TrustSigner("")
    with pytest.raises(TrustKeyError):
        TrustSigner("short")


OLD_KEY = generate_key()
KEYRING = Keyring.parse(f"k1:{OLD_KEY}")


def employee(rights_group: int, **changes: Any) -> EmployeeUpserted:
    values: dict[str, Any] = {
        "employee": "piet",
        "username": "piet",
        "name": "Piet de Vries",
        "rights_group": rights_group,
        "version": 3,
        "updated_at": datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        "zone": "a",
        **changes,
    }
    return EmployeeUpserted(**values)


def test_makes_admin_is_creating_or_raising_to_rights_group_1() -> None:
    assert makes_admin(1, None) and makes_admin(1, 2)
    assert not makes_admin(1, 1) and not makes_admin(2, 1) and not makes_admin(2, None)


def test_the_tag_binds_practice_and_every_field() -> None:
    body = employee(1)
    data = tagged(KEYRING, "fysio", body)
    assert tag_valid(KEYRING, "fysio", data)
    assert not tag_valid(KEYRING, "tandarts", data)
    assert not tag_valid(KEYRING, "fysio", {**data, "email": "mallory@example.org"})
    assert not tag_valid(KEYRING, "fysio", {**data, "version": 4})
    assert not tag_valid(KEYRING, "fysio", body.model_dump(mode="json"))
    other = Keyring.parse(f"k1:{generate_key()}")
    assert not tag_valid(other, "fysio", data)
    # A rotated keyring (new key first, old kept) still opens the old tags.
    rotated = Keyring.parse(f"k2:{generate_key()},k1:{OLD_KEY}")
    assert tag_valid(rotated, "fysio", data)


def test_an_untagged_upsert_may_not_make_an_administrator() -> None:
    trust = DirectoryTrust(KEYRING)
    body = employee(1)
    with pytest.raises(InvalidEvent, match="rights group 1"):
        trust.check("fysio", body.model_dump(mode="json"), body, 2)
    with pytest.raises(InvalidEvent):
        trust.check("fysio", body.model_dump(mode="json"), body, None)
    # Tweestap's own tagged upsert may; an administrator staying one, or a demotion, needs none.
    trust.check("fysio", tagged(KEYRING, "fysio", body), body, 2)
    trust.check("fysio", body.model_dump(mode="json"), body, 1)
    demoted = employee(2)
    trust.check("fysio", demoted.model_dump(mode="json"), demoted, 1)
    # The deployment may allow its host systems to make administrators.
    DirectoryTrust(KEYRING, host_admins=True).check("fysio", body.model_dump(mode="json"), body, 2)
