"""The SDK's sliding window with an injected clock: renew at X/2, retry at X/4, X/8 … with a
floor and jitter, never past the expiry; skew puts the local expiry early, never late."""

from __future__ import annotations

from tweestap_client.window import Schedule, Window, estimate_skew


def window(x: float = 600.0, start: float = 1000.0) -> Window:
    return Window(issued_at=start, renew_after=start + x / 2, expires_at=start + x)


def test_renewal_is_due_at_renew_after() -> None:
    schedule = Schedule(window(), floor=5, jitter=0)
    assert not schedule.due(1299.9)
    assert schedule.due(1300.0)


def test_failures_retry_at_a_quarter_then_an_eighth_of_the_lifetime() -> None:
    schedule = Schedule(window(600), floor=5, jitter=0)
    assert schedule.failed(1300) == 1300 + 150  # X/4
    assert schedule.failed(1450) == 1450 + 75  # X/8
    assert schedule.failed(1525) == 1525 + 37.5  # X/16


def test_retries_never_come_sooner_than_the_floor_nor_after_expiry() -> None:
    schedule = Schedule(window(60), floor=5, jitter=0)
    schedule.failures = 5
    assert schedule.failed(1030) == 1035  # 60/128 < 5 s floor
    assert schedule.failed(1058) == 1060, "capped at the expiry"


def test_jitter_spreads_ten_percent_either_way() -> None:
    low = Schedule(window(600), floor=5, jitter=0.1, rand=lambda: 0.0)
    high = Schedule(window(600), floor=5, jitter=0.1, rand=lambda: 1.0)
    assert low.failed(1300) == 1300 + 135
    assert high.failed(1300) == 1300 + 165


def test_token_is_never_usable_at_or_past_expiry() -> None:
    w = window(600)
    assert w.usable(1599.9)
    assert not w.usable(1600.0)


def test_skew_from_iat_moves_the_local_expiry_early_not_late() -> None:
    # The server's clock runs 100 s ahead: it stamps iat=2100 while local time is 2000..2001.
    skew = estimate_skew(iat=2100, sent_at=2000)
    w = Window.from_server(iat=2100, renew_after=2400, exp=2700, skew=skew)
    assert (w.issued_at, w.renew_after, w.expires_at) == (2000, 2300, 2600)
    assert not w.usable(2600), "the server sees exp at local 2600 at the latest"
