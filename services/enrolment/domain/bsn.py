"""The BSN (burgerservicenummer): the eleven-test and the keyed hash that is all we keep.

A BSN is needed only to be compared (the identity check of the enrolment wizard), so it is
stored and published only as HMAC-SHA256 under the service's BSN key: without the key a hash
cannot be checked against the 10^9 possible numbers."""

from __future__ import annotations

import hashlib
import hmac

#: Separators people type inside a BSN ("1234.56.782", "123 456 782").
_SEPARATORS = " .-"
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


class InvalidBsn(ValueError):
    """Not nine digits (eight with the leading zero left off), or fails the eleven-test."""


def normalise(text: str) -> str:
    """The nine-digit form of a BSN as typed; raises :class:`InvalidBsn`."""
    digits = "".join(c for c in text.strip() if c not in _SEPARATORS)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (8, 9):
        raise InvalidBsn("a BSN has nine digits")
    digits = digits.zfill(9)
    total = sum(int(d) * w for d, w in zip(digits, _WEIGHTS, strict=True))
    if total % 11 or digits == "000000000":
        raise InvalidBsn("not a valid BSN (eleven-test)")
    return digits


def bsn_hash(key: bytes, bsn: str) -> str:
    """HMAC-SHA256 (hex) of the normalised BSN; raises :class:`InvalidBsn`."""
    return hmac.new(key, normalise(bsn).encode(), hashlib.sha256).hexdigest()


def same_bsn(key: bytes, bsn: str, stored_hash: str | None) -> bool:
    """Whether ``bsn`` is the one hashed in ``stored_hash`` (False when either is unusable)."""
    try:
        candidate = bsn_hash(key, bsn)
    except InvalidBsn:
        return False
    return stored_hash is not None and hmac.compare_digest(candidate, stored_hash)
