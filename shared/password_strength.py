"""Password strength 0-100, one rule for auth (which enforces the practice's minimum) and the
web front end (which previews it while an administrator sets the policy) — pure, no I/O.

Strength is derived from zxcvbn's estimate of the guesses an attacker needs, with the
practice's and employee's names as user inputs (so "Fysio Jansen 2024" is weak at Fysio Jansen):

    strength = min(100, round(100 * log10(guesses) / 14))

so 60 ≈ 10^8.4 guesses (zxcvbn score 3, "safely unguessable" against online attacks and
throttled offline ones) and 100 ≈ 10^14. Only the first 72 characters are scored (zxcvbn's
limit); a longer password is at least as strong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SEPARATORS = re.compile(r"[\s\-_.,;:/]+")
_SCORED_LENGTH = 72
_FULL_STRENGTH_LOG10 = 14.0


def strength(password: str, user_inputs: Iterable[str] = ()) -> int:
    """Scored as written and with separators removed, the weaker counting: zxcvbn treats
    "Fysio Jansen 2024" as brute-force chunks but sees the names in "FysioJansen2024"."""
    if not password:
        return 0
    # Imported when first needed: its dictionaries take some 12 MB of a process's memory,
    # used only when a password is set or a policy previewed (idle RSS, issue 14).
    from zxcvbn import zxcvbn

    inputs = [word for value in user_inputs for word in value.split() if word]
    variants = {password[:_SCORED_LENGTH], _SEPARATORS.sub("", password)[:_SCORED_LENGTH]}
    log10 = min(
        float(zxcvbn(variant, user_inputs=inputs)["guesses_log10"])
        for variant in variants
        if variant
    )
    return max(0, min(100, round(100 * log10 / _FULL_STRENGTH_LOG10)))
