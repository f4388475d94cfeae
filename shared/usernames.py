"""One key per username: what login, lockout and uniqueness compare.

Usernames are compared after Unicode NFKC normalisation and case folding, so ``ADMIN``,
``admin`` and ``admin`` in fullwidth letters (U+FF41...) are one user with one lockout
counter. Case folding is Unicode's caseless match (``ß`` ≡ ``ss``), stronger than ``lower()``;
NFKC is applied again after folding because folding can undo a normalised form (Unicode §3.13,
compatibility caseless match)."""

from __future__ import annotations

import unicodedata


def normalise_username(username: str) -> str:
    """The comparison key of ``username``: trimmed, NFKC, case-folded."""
    folded = unicodedata.normalize("NFKC", username.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)
