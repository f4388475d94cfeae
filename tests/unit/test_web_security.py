"""The web front end's pure security pieces: CSRF check, sealed session, headers."""

from __future__ import annotations

import os

from multidict import CIMultiDict

from services.web import csrf, headers, i18n
from services.web import session as sessions

KEY = os.urandom(32)


def test_csrf_accepts_only_the_sessions_secret() -> None:
    assert csrf.valid("abc123", "abc123")
    assert not csrf.valid("abc123", "abc124")
    assert not csrf.valid("abc123", None)
    assert not csrf.valid("abc123", "")
    assert not csrf.valid(None, "abc123")


def test_session_round_trip() -> None:
    data = {**sessions.new(1000.0, "en"), "token": {"token": "x"}}
    sealed = sessions.seal(KEY, data)
    assert "token" not in sealed and "csrf" not in sealed  # not readable
    assert sessions.unseal(KEY, sealed, 1001.0, 60, 3600) == data


def test_session_tampered_or_other_key_or_garbage_is_refused() -> None:
    sealed = sessions.seal(KEY, sessions.new(1000.0, "nl"))
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert sessions.unseal(KEY, flipped, 1000.0, 60, 3600) is None
    assert sessions.unseal(os.urandom(32), sealed, 1000.0, 60, 3600) is None
    assert sessions.unseal(KEY, "not-a-cookie!", 1000.0, 60, 3600) is None
    assert sessions.unseal(KEY, "", 1000.0, 60, 3600) is None


def test_session_ends_when_idle_or_too_old() -> None:
    data = sessions.new(1000.0, "nl")
    assert sessions.unseal(KEY, sessions.seal(KEY, data), 1061.0, 60, 3600) is None
    data["seen"] = 4590.0
    assert sessions.unseal(KEY, sessions.seal(KEY, data), 4601.0, 60, 3600) is None
    assert sessions.unseal(KEY, sessions.seal(KEY, data), 4599.0, 60, 3600) is not None


def test_security_headers_and_no_store_on_pages_only() -> None:
    page: CIMultiDict[str] = CIMultiDict()
    headers.apply(page, static=False)
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "unsafe-inline" not in page["Content-Security-Policy"]
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["Cache-Control"] == "no-store"
    static: CIMultiDict[str] = CIMultiDict()
    headers.apply(static, static=True)
    assert "Cache-Control" not in static and "Content-Security-Policy" in static


def test_language_from_accept_language_dutch_by_default() -> None:
    assert i18n.negotiate(None) == "nl"
    assert i18n.negotiate("en-GB,en;q=0.9") == "en"
    assert i18n.negotiate("de, en;q=0.5, nl;q=0.8") == "nl"
    assert i18n.negotiate("fr") == "nl"
    assert set(i18n.TEXTS["nl"]) == set(i18n.TEXTS["en"])
