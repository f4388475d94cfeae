"""Sealing of secrets at rest and on Kafka: AES-256-GCM under a keyring with key ids.

A sealed value is ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``. The associated data binds
the value to its owner (``practice:employee:purpose``), so a sealed secret copied to another
row or another employee does not open. New values are sealed with the first key; every key in
the ring opens, which is how keys rotate without downtime.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class SealingError(Exception):
    """A sealed value could not be opened (unknown key, tampered value, wrong owner)."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _bytes(associated_data: str | bytes) -> bytes:
    return associated_data if isinstance(associated_data, bytes) else associated_data.encode()


def generate_key() -> str:
    """A new random 256-bit key, base64url-encoded, for ``TWEESTAP_SEALING_KEYS``."""
    return _b64e(AESGCM.generate_key(bit_length=256))


class Keyring:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError("the active sealing key is not in the keyring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"sealing key {kid!r} is not 256 bits")
            if "." in kid or not kid:
                raise ValueError("a sealing key id may not be empty or contain '.'")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Parse ``kid:base64key,kid:base64key``; the first key seals."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kid, _, encoded = part.partition(":")
            keys[kid] = _b64d(encoded)
            order.append(kid)
        if not order:
            raise ValueError("no sealing keys configured (TWEESTAP_SEALING_KEYS)")
        return cls(keys, order[0])

    def seal(self, plaintext: bytes, associated_data: str | bytes) -> str:
        nonce = os.urandom(12)
        sealed = self._aead[self.active].encrypt(nonce, plaintext, _bytes(associated_data))
        return f"{_VERSION}.{self.active}.{_b64e(nonce + sealed)}"

    def open(self, sealed: str, associated_data: str | bytes) -> bytes:
        try:
            version, kid, body = sealed.split(".", 2)
        except ValueError:
            raise SealingError("malformed sealed value") from None
        if version != _VERSION or kid not in self._aead:
            raise SealingError("unknown sealing version or key id")
        try:
            raw = _b64d(body)
            if len(raw) < 12 + 16:
                raise SealingError("sealed value too short")
            return self._aead[kid].decrypt(raw[:12], raw[12:], _bytes(associated_data))
        except (InvalidTag, ValueError):
            raise SealingError("sealed value does not open with its associated data") from None
