"""Token claims, lifetimes and the sliding-window renewal cap (services.auth.domain.tokens)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.auth.domain.tokens import (
    FALLBACK_AAL,
    SESSION_SCOPE,
    Grant,
    Lifetimes,
    Session,
    SessionEnded,
    renewal_event_due,
)
from services.auth.domain.tokens import grant as issue
from shared.tokens import is_access_token_type

AUTH_TIME = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
X = timedelta(hours=8)
DAY = timedelta(hours=24)
LIFETIMES = Lifetimes(token=X, session_max=DAY)
ISSUER = "https://tweestap.nl"
AUDIENCE = "https://tweestap.nl/api"
CLIENT = "tweestap-web"


def grant(s: Session, lifetimes: Lifetimes, issuer: str, zone: str, now: datetime) -> Grant:
    return issue(s, lifetimes, issuer, zone, now, audience=AUDIENCE, client_id=CLIENT)


def session(acr: str = "aal2", amr: tuple[str, ...] = ("pwd", "otp")) -> Session:
    return Session.new("fysio", "emp-1", 1, amr, acr, AUTH_TIME, "substantial")


def test_claims() -> None:
    s = session()
    g = grant(s, LIFETIMES, ISSUER, "a", AUTH_TIME)
    c = g.claims
    assert c["iss"] == ISSUER
    assert c["aud"] == AUDIENCE and c["client_id"] == CLIENT, "RFC 9068"
    assert c["sub"] == "emp-1"
    assert c["practice"] == "fysio"
    assert c["rg"] == 1
    assert c["sid"] == s.sid and len(s.sid) >= 32
    assert c["amr"] == ["pwd", "otp"]
    assert c["aal"] == "aal2"
    assert c["acr"] == "http://eidas.europa.eu/LoA/substantial", "the eIDAS level (ADR 0012)"
    assert c["auth_time"] == int(AUTH_TIME.timestamp())
    assert c["iat"] == int(AUTH_TIME.timestamp())
    assert c["exp"] == int((AUTH_TIME + X).timestamp())
    assert c["zone"] == "a"
    assert c["scope"] == SESSION_SCOPE
    assert isinstance(c["jti"], str) and c["jti"]


def test_each_grant_has_its_own_token_id_and_each_session_its_own_id() -> None:
    s = session()
    assert (
        grant(s, LIFETIMES, ISSUER, "a", AUTH_TIME).claims["jti"]
        != grant(s, LIFETIMES, ISSUER, "a", AUTH_TIME).claims["jti"]
    )
    assert session().sid != session().sid


def test_expiry_is_now_plus_x_and_renew_after_the_midpoint() -> None:
    now = AUTH_TIME + timedelta(hours=3)
    g = grant(session(), LIFETIMES, ISSUER, "b", now)
    assert g.expires_at == now + X
    assert g.claims["exp"] == int((now + X).timestamp())
    assert g.claims["iat"] == int(now.timestamp())
    assert g.renew_after == now + X / 2
    assert g.session_expires_at == AUTH_TIME + DAY


def test_microseconds_are_dropped() -> None:
    now = AUTH_TIME + timedelta(hours=1, microseconds=750_000)
    g = grant(session(), LIFETIMES, ISSUER, "a", now)
    assert g.expires_at == AUTH_TIME + timedelta(hours=1) + X
    # The session's start keeps them, in its own claim beside auth_time's whole seconds.
    made = Session.new("p", "e", 1, ("pwd",), "aal2", now, "substantial")
    started = grant(made, LIFETIMES, ISSUER, "a", now)
    assert started.claims["auth_time"] == int(now.timestamp())
    assert started.claims["sst"] == now.timestamp()


def test_renewal_near_session_end_is_capped() -> None:
    now = AUTH_TIME + DAY - timedelta(hours=2)
    g = grant(session(), LIFETIMES, ISSUER, "a", now)
    assert g.expires_at == AUTH_TIME + DAY
    assert g.claims["exp"] == int((AUTH_TIME + DAY).timestamp())
    assert g.renew_after == now + timedelta(hours=1)
    assert g.session_expires_at == AUTH_TIME + DAY
    # auth_time stays that of the original login.
    assert g.claims["auth_time"] == int(AUTH_TIME.timestamp())


def test_renewal_one_second_before_end() -> None:
    now = AUTH_TIME + DAY - timedelta(seconds=1)
    g = grant(session(), LIFETIMES, ISSUER, "a", now)
    assert g.expires_at == AUTH_TIME + DAY


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1), timedelta(days=3)])
def test_at_or_after_session_end_raises(after: timedelta) -> None:
    with pytest.raises(SessionEnded):
        grant(session(), LIFETIMES, ISSUER, "a", AUTH_TIME + DAY + after)


def test_shorter_session_max_caps_the_first_token() -> None:
    lifetimes = Lifetimes(token=X, session_max=timedelta(hours=4))
    g = grant(session(), lifetimes, ISSUER, "a", AUTH_TIME)
    assert g.expires_at == AUTH_TIME + timedelta(hours=4)
    assert g.renew_after == AUTH_TIME + timedelta(hours=2)


def test_fallback_session_capped_at_12_hours_even_with_24_hour_max() -> None:
    fallback = session(acr=FALLBACK_AAL, amr=("pwd", "x509"))
    lifetimes = Lifetimes(token=DAY, session_max=DAY)
    g = grant(fallback, lifetimes, ISSUER, "a", AUTH_TIME)
    assert g.expires_at == AUTH_TIME + timedelta(hours=12)
    assert g.session_expires_at == AUTH_TIME + timedelta(hours=12)
    assert g.claims["aal"] == FALLBACK_AAL
    near_end = AUTH_TIME + timedelta(hours=11)
    assert grant(fallback, LIFETIMES, ISSUER, "a", near_end).expires_at == (
        AUTH_TIME + timedelta(hours=12)
    )
    with pytest.raises(SessionEnded):
        grant(fallback, LIFETIMES, ISSUER, "a", AUTH_TIME + timedelta(hours=12))
    # The same renewal time is fine for a normal session.
    normal = grant(session(), LIFETIMES, ISSUER, "a", AUTH_TIME + timedelta(hours=12))
    assert normal.expires_at == AUTH_TIME + timedelta(hours=12) + X


def test_fallback_respects_a_shorter_session_max() -> None:
    lifetimes = Lifetimes(token=timedelta(hours=1), session_max=timedelta(hours=6))
    fallback = session(acr=FALLBACK_AAL)
    assert lifetimes.session_end(fallback) == AUTH_TIME + timedelta(hours=6)


def test_session_from_claims_round_trip() -> None:
    s = session()
    g = grant(s, LIFETIMES, ISSUER, "a", AUTH_TIME + timedelta(hours=5))
    back = Session.from_claims(g.claims)
    assert back == s
    assert back.auth_time.tzinfo is not None
    # A renewal from the restored session keeps the same session end.
    again = grant(back, LIFETIMES, ISSUER, "b", AUTH_TIME + timedelta(hours=20))
    assert again.session_expires_at == AUTH_TIME + DAY
    assert again.claims["sid"] == s.sid


def test_session_from_claims_accepts_string_rights_group() -> None:
    claims = grant(session(), LIFETIMES, ISSUER, "a", AUTH_TIME).claims
    assert Session.from_claims({**claims, "rg": "1"}).rights_group == 1


def test_a_session_after_a_cutoff_in_the_same_second_starts_after_it() -> None:
    from services.auth.domain.tokens import session_start

    cutoff = datetime(2026, 11, 23, 12, 0, 0, 400000, tzinfo=UTC)
    later = cutoff + timedelta(milliseconds=300)
    # Its own start, to the microsecond (sst), which is after the cutoff: not revoked by it.
    assert session_start(later, cutoff) == later > cutoff
    assert session_start(later, None) == later
    # A cutoff written with the same clock reading (a password change in the login), or one
    # from a zone whose clock is ahead: the session starts just after it.
    assert session_start(cutoff, cutoff) == cutoff + timedelta(microseconds=1)
    ahead = cutoff + timedelta(seconds=1)
    assert session_start(later, ahead) == ahead + timedelta(microseconds=1)


def test_access_token_type_follows_rfc9068() -> None:
    assert is_access_token_type("at+jwt")
    assert is_access_token_type("application/AT+JWT")
    assert not is_access_token_type("JWT")
    assert not is_access_token_type(None)


HOUR = timedelta(hours=1)


def at(offset: timedelta) -> int:
    return int((AUTH_TIME + offset).timestamp())


@pytest.mark.parametrize(
    ("issued", "renewed", "due"),
    [
        (timedelta(0), timedelta(minutes=59), False),  # same hour of the session
        (timedelta(0), HOUR, True),  # the next hour starts
        (timedelta(minutes=30), timedelta(hours=4, minutes=30), True),  # a client's usual pace
        (timedelta(hours=4, minutes=30), timedelta(hours=4, minutes=31), False),  # in a loop
        (timedelta(hours=4, seconds=59 * 60 + 59), timedelta(hours=5), True),
    ],
)
def test_a_renewal_event_is_due_once_per_period_of_the_session(
    issued: timedelta, renewed: timedelta, due: bool
) -> None:
    assert renewal_event_due(session(), at(issued), AUTH_TIME + renewed, HOUR) is due


def test_a_period_of_zero_makes_every_renewal_an_event() -> None:
    now = AUTH_TIME + timedelta(seconds=1)
    assert renewal_event_due(session(), at(timedelta(0)), now, timedelta(0))
