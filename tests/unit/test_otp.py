"""One-time codes against the RFCs' test vectors and an independent generator (oathtool)."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from shared import otp

RFC4226_SECRET = base64.b32encode(b"12345678901234567890").decode()
# RFC 4226 appendix D: HOTP values for counters 0..9.
RFC4226 = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]
# RFC 6238 appendix B: the seed is 20 bytes for SHA-1, 32 for SHA-256, 64 for SHA-512.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("counter", range(10))
def test_hotp_rfc4226_appendix_d(counter: int) -> None:
    assert pyotp.HOTP(RFC4226_SECRET).at(counter) == RFC4226[counter]


@pytest.mark.parametrize(("t", "sha1", "sha256", "sha512"), RFC6238)
def test_totp_rfc6238_appendix_b(t: int, sha1: str, sha256: str, sha512: str) -> None:
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        secret = base64.b32encode(SEEDS[digest]).decode()
        assert pyotp.TOTP(secret, digits=8, digest=digest).at(t) == expected
    # What the apps use: SHA-1 and 6 digits, i.e. the last six digits of the SHA-1 row.
    assert otp.totp_at_step(base64.b32encode(SEEDS["sha1"]).decode(), t // 30) == sha1[2:]


def test_match_totp_accepts_one_step_either_way_and_names_it() -> None:
    secret = otp.new_secret()
    now = datetime(2026, 11, 23, 12, 0, 10, tzinfo=UTC)
    step = otp.time_step(now)
    for offset in (-1, 0, 1):
        assert otp.match_totp(secret, otp.totp_at_step(secret, step + offset), now) == step + offset
    assert otp.match_totp(secret, otp.totp_at_step(secret, step + 2), now) is None
    assert otp.match_totp(secret, otp.totp_at_step(secret, step - 2), now) is None
    assert otp.match_totp(secret, "12345", now) is None
    assert otp.match_totp(secret, "abcdef", now) is None


def test_secrets_are_160_bits_and_codes_are_random() -> None:
    secret = otp.new_secret()
    assert len(base64.b32decode(secret)) == 20
    assert secret != otp.new_secret()
    code = otp.numeric_code(6)
    assert len(code) == 6 and code.isdigit()
    assert len({otp.numeric_code(8) for _ in range(50)}) > 45


def test_recovery_code_has_100_bits_and_compares_loosely() -> None:
    code = otp.recovery_code()
    raw = code.replace("-", "")
    assert len(raw) == 20 and set(raw) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    stored = otp.code_hash(code)
    assert stored != code and code not in stored
    assert otp.same_code(code.lower().replace("-", " "), stored)
    assert not otp.same_code(otp.recovery_code(), stored)


def test_activation_codes_avoid_ambiguous_characters() -> None:
    codes = "".join(otp.typable_code(10) for _ in range(200))
    assert not set(codes) & set("01OIL")
    assert len(otp.typable_code(12)) == 12


def test_provisioning_uri_names_issuer_practice_and_user() -> None:
    secret = otp.new_secret()
    uri = otp.provisioning_uri(secret, "fysio", "jan")
    assert uri.startswith("otpauth://totp/Tweestap:jan@fysio?")
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == secret and parsed.issuer == "Tweestap"
    assert (parsed.digits, parsed.interval, parsed.name) == (6, 30, "jan@fysio")


def test_matches_the_independent_generator() -> None:
    secret = otp.new_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    for offset in (-30, 0, 30):
        at = now + timedelta(seconds=offset)
        code = subprocess.run(
            ["oathtool", "--totp", "-b", secret, "--now", f"{at:%Y-%m-%d %H:%M:%S} UTC"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert otp.match_totp(secret, code, now) == otp.time_step(at)
