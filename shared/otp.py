"""One-time codes — pure, no I/O: TOTP (RFC 6238 as the common apps do it: SHA-1, 6 digits,
30 s), random numeric codes for SMS/e-mail, activation codes and recovery codes.

Used by enrolment (confirming a new authenticator) and auth (the second step of a login), so
both accept exactly the same codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from urllib.parse import quote

import pyotp

PERIOD = 30
DIGITS = 6
ISSUER = "Tweestap"
#: 160-bit secrets: 32 base32 characters.
SECRET_CHARS = 32
#: Unambiguous characters for codes a person types (no 0/O, 1/I/L).
_TYPABLE = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_secret() -> str:
    return pyotp.random_base32(SECRET_CHARS)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // PERIOD


def totp_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).generate_otp(step)


def match_totp(secret: str, code: str, now: datetime, window: int = 1) -> int | None:
    """The time step (within ±``window`` of now) whose code is ``code``, or None.

    The caller must still refuse a step that was used before (each step once)."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = time_step(now)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    found = None
    for step in range(current - window, current + window + 1):
        # Compare every candidate: the time taken does not tell which step matched.
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, practice: str, username: str) -> str:
    """``otpauth://totp/Tweestap:{username}@{practice}?secret=…&issuer=Tweestap``."""
    label = quote(f"{ISSUER}:{username}@{practice}", safe=":@")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={ISSUER}"
        f"&algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
    )


def numeric_code(digits: int = 6) -> str:
    """A uniformly random code of ``digits`` digits (SMS and e-mail login codes)."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def typable_code(length: int) -> str:
    """A random code from unambiguous letters and digits (activation codes)."""
    return "".join(secrets.choice(_TYPABLE) for _ in range(length))


def recovery_code() -> str:
    """100 random bits as 20 base32 characters, shown in groups of five."""
    raw = "".join(secrets.choice(_BASE32) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def normalise(code: str) -> str:
    """What a person typed, compared without case, spaces or dashes."""
    return "".join(c for c in code.upper() if c.isalnum())


def code_hash(code: str) -> str:
    """SHA-256 of the normalised code: enough for high-entropy codes (recovery, activation),
    which are never stored in clear."""
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def same_code(code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(code_hash(code), stored_hash)
