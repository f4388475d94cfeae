"""AES-256-GCM sealing under a keyring with key ids (shared.sealing)."""

from __future__ import annotations

import base64
import os

import pytest

from shared.sealing import Keyring, SealingError, generate_key

AD = "fysio:emp-1:totp"
SECRET = b"JBSWY3DPEHPK3PXP-secret"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def ring() -> Keyring:
    return Keyring.parse(f"k1:{generate_key()}")


def test_round_trip(ring: Keyring) -> None:
    sealed = ring.seal(SECRET, AD)
    assert sealed.startswith("v1.k1.")
    assert SECRET not in sealed.encode()
    assert ring.open(sealed, AD) == SECRET
    assert ring.open(ring.seal(b"", AD), AD) == b""


def test_each_seal_uses_a_fresh_nonce(ring: Keyring) -> None:
    assert ring.seal(SECRET, AD) != ring.seal(SECRET, AD)


def test_wrong_associated_data_fails(ring: Keyring) -> None:
    sealed = ring.seal(SECRET, AD)
    with pytest.raises(SealingError):
        ring.open(sealed, "fysio:emp-2:totp")
    with pytest.raises(SealingError):
        ring.open(sealed, "")


def test_tampered_ciphertext_fails(ring: Keyring) -> None:
    sealed = ring.seal(SECRET, AD)
    prefix, body = sealed.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for index in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        with pytest.raises(SealingError):
            ring.open(f"{prefix}.{b64(bytes(tampered))}", AD)


def test_unknown_kid_fails(ring: Keyring) -> None:
    other = Keyring.parse(f"k9:{generate_key()}")
    with pytest.raises(SealingError):
        ring.open(other.seal(SECRET, AD), AD)
    # Same ciphertext relabelled with an unknown key id.
    body = ring.seal(SECRET, AD).split(".", 2)[2]
    with pytest.raises(SealingError):
        ring.open(f"v1.k2.{body}", AD)


def test_unknown_version_and_malformed_value_fail(ring: Keyring) -> None:
    body = ring.seal(SECRET, AD).split(".", 2)[2]
    with pytest.raises(SealingError):
        ring.open(f"v2.k1.{body}", AD)
    with pytest.raises(SealingError):
        ring.open("not-sealed", AD)


@pytest.mark.parametrize("body", ["", "AAAA", "A", "truncated!"])
def test_truncated_or_garbled_body_fails_with_sealing_error(ring: Keyring, body: str) -> None:
    with pytest.raises(SealingError):
        ring.open(f"v1.k1.{body}", AD)


def test_a_key_with_the_same_id_but_other_bytes_does_not_open(ring: Keyring) -> None:
    sealed = ring.seal(SECRET, AD)
    impostor = Keyring.parse(f"k1:{generate_key()}")
    with pytest.raises(SealingError):
        impostor.open(sealed, AD)


def test_rotation_opens_old_and_seals_with_first_key() -> None:
    k1, k2 = generate_key(), generate_key()
    old = Keyring.parse(f"k1:{k1}")
    sealed_old = old.seal(SECRET, AD)
    rotated = Keyring.parse(f"k2:{k2},k1:{k1}")
    assert rotated.active == "k2"
    assert rotated.open(sealed_old, AD) == SECRET
    sealed_new = rotated.seal(SECRET, AD)
    assert sealed_new.startswith("v1.k2.")
    assert rotated.open(sealed_new, AD) == SECRET
    # A zone that has not rotated yet cannot open the new value: rotation must add keys first.
    with pytest.raises(SealingError):
        old.open(sealed_new, AD)
    # A ring that still holds k2 after k1 is retired opens only the new values.
    retired = Keyring.parse(f"k2:{k2}")
    assert retired.open(sealed_new, AD) == SECRET
    with pytest.raises(SealingError):
        retired.open(sealed_old, AD)


def test_parse_tolerates_spaces_and_empty_parts() -> None:
    key = generate_key()
    ring = Keyring.parse(f" k1:{key} , ,")
    assert ring.active == "k1"
    assert ring.open(ring.seal(SECRET, AD), AD) == SECRET


@pytest.mark.parametrize("spec", ["", "  ", ",", " , , "])
def test_parse_rejects_empty_spec(spec: str) -> None:
    with pytest.raises(ValueError, match="no sealing keys"):
        Keyring.parse(spec)


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33, 64])
def test_parse_rejects_keys_that_are_not_256_bits(size: int) -> None:
    with pytest.raises(ValueError, match="not 256 bits"):
        Keyring.parse(f"k1:{b64(os.urandom(size))}")
    # Also when the short key is not the active one.
    with pytest.raises(ValueError, match="not 256 bits"):
        Keyring.parse(f"k1:{generate_key()},k0:{b64(os.urandom(size))}")


def test_parse_rejects_a_key_without_id() -> None:
    with pytest.raises(ValueError):
        Keyring.parse(generate_key())
    with pytest.raises(ValueError):
        Keyring.parse(f":{generate_key()}")


def test_key_id_may_not_contain_a_dot() -> None:
    with pytest.raises(ValueError):
        Keyring.parse(f"k.1:{generate_key()}")


def test_generate_key_is_256_random_bits() -> None:
    key = generate_key()
    assert len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) == 32
    assert generate_key() != key
