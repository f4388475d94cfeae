"""The per-client budget and the client address behind trusted proxies (shared.ratelimit)."""

from __future__ import annotations

import pytest

from shared.ratelimit import RateLimiter, client_address, parse_networks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused_with_retry_after() -> None:
    clock = Clock()
    limiter = RateLimiter(attempts=5, window=60, clock=clock)
    answers = [limiter.take("10.0.0.1") for _ in range(7)]
    assert answers[:5] == [None] * 5
    assert answers[5:] == [12, 12], "one request per 60/5 s after the burst"
    assert limiter.take("10.0.0.2") is None, "each key has its own budget"


def test_budget_refills_with_time_and_refusals_spend_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(attempts=2, window=10, clock=clock)
    assert [limiter.take("a") for _ in range(2)] == [None, None]
    for _ in range(100):
        assert limiter.take("a") is not None
    clock.now += 5
    assert limiter.take("a") is None
    assert limiter.take("a") == 5
    clock.now += 60
    assert [limiter.take("a") for _ in range(3)] == [None, None, 5], "never above the burst"


def test_memory_is_bounded_least_recently_used_out() -> None:
    clock = Clock()
    limiter = RateLimiter(attempts=1, window=60, max_keys=2, clock=clock)
    assert limiter.take("a") is None
    assert limiter.take("b") is None
    assert limiter.take("a") is not None  # a is now the most recently used
    assert limiter.take("c") is None  # b goes
    assert limiter.take("a") is not None, "a was kept"
    assert limiter.take("b") is None, "b was forgotten: a full bucket again"


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(attempts=0, window=60)


TRUSTED = parse_networks(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("192.0.2.7", ["198.51.100.1"], "192.0.2.7"),  # an untrusted peer's header is ignored
        ("10.1.1.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.1.1.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # left of it: the client's claim
        ("10.1.1.1", ["198.51.100.1, 10.2.2.2"], "198.51.100.1"),  # past a chain of proxies
        ("10.1.1.1", ["198.51.100.1", "10.2.2.2"], "198.51.100.1"),  # over several headers
        ("10.1.1.1", ["not-an-address"], "10.1.1.1"),
        ("10.1.1.1", [], "10.1.1.1"),
        ("::1", ["2001:db8::5"], "2001:db8::5"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, TRUSTED) == expected
