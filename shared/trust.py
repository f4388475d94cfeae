"""The deployment's trust key: who may announce a token signing key on ``sts.keys``.

Anyone with produce rights on the broker could otherwise publish an Ed25519 key and then mint
tokens every service accepts. So auth signs each announcement with the trust key's private half
(held by auth only), and every consumer of ``sts.keys`` checks the signature against the public
halves it is configured with (``TWEESTAP_TRUST_PUBLIC_KEYS``): the broker is not trusted to say
who wrote an event (DESIGN §9).

The signature is a detached Ed25519 signature over the canonical JSON of the event's ``data``
without its ``signature`` member (sorted keys, no whitespace, ASCII), prefixed by a purpose
label so that a signature made for one purpose never verifies for another. Keys are written as
unpadded base64url of their 32 raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE = "signature"
KEY_ANNOUNCEMENT = b"tweestap sts.keys v1\n"


class TrustKeyError(ValueError):
    """A trust key setting is missing or malformed."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(data: Mapping[str, Any], without: str) -> bytes:
    """The bytes a tag or signature covers: ``data`` minus ``without``, keys sorted."""
    body = {k: v for k, v in data.items() if k != without}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def generate() -> tuple[str, str]:
    """A new trust key pair as ``(private, public)``, base64url."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _b64e(raw), public_half(_b64e(raw))


def public_half(private: str) -> str:
    """The public half of a base64url private trust key."""
    public = _private_key(private).public_key()
    return _b64e(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _private_key(text: str) -> Ed25519PrivateKey:
    try:
        return Ed25519PrivateKey.from_private_bytes(_b64d(text.strip()))
    except (ValueError, binascii.Error):
        raise TrustKeyError("the trust private key is not a base64url Ed25519 key") from None


class TrustSigner:
    """Signs key announcements (auth only)."""

    def __init__(self, private: str) -> None:
        if not private.strip():
            raise TrustKeyError("no trust private key configured (TWEESTAP_TRUST_PRIVATE_KEY)")
        self._key = _private_key(private)
        self.public = public_half(private)

    def sign(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` with its ``signature`` member added."""
        signature = self._key.sign(KEY_ANNOUNCEMENT + canonical_json(data, SIGNATURE))
        return {**data, SIGNATURE: _b64e(signature)}


class TrustVerifier:
    """Checks key announcements against every configured public trust key (several during a
    rotation of the trust key: any one verifies)."""

    def __init__(self, publics: list[Ed25519PublicKey]) -> None:
        if not publics:
            raise TrustKeyError("no trust public key configured (TWEESTAP_TRUST_PUBLIC_KEYS)")
        self._keys = publics
        self._raw = {
            k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            for k in publics
        }

    def trusts(self, public: str) -> bool:
        """Whether ``public`` (base64url) is one of the configured keys."""
        try:
            return _b64d(public) in self._raw
        except (ValueError, binascii.Error):
            return False

    @classmethod
    def parse(cls, spec: str) -> TrustVerifier:
        """``public[,public…]``, base64url."""
        keys = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            try:
                keys.append(Ed25519PublicKey.from_public_bytes(_b64d(part)))
            except (ValueError, binascii.Error):
                raise TrustKeyError("a trust public key is not a base64url Ed25519 key") from None
        return cls(keys)

    def verify(self, data: Mapping[str, Any]) -> bool:
        """True if ``data`` carries a signature by one of the trust keys over the rest of it."""
        signature = data.get(SIGNATURE)
        if not isinstance(signature, str):
            return False
        try:
            raw = _b64d(signature)
        except (ValueError, binascii.Error):
            return False
        message = KEY_ANNOUNCEMENT + canonical_json(data, SIGNATURE)
        for key in self._keys:
            try:
                key.verify(raw, message)
            except InvalidSignature:
                continue
            return True
        return False
