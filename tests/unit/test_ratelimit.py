"""The per-client budget and the client address behind trusted proxies (shared.ratelimit)."""

from __future__ import annotations

import pytest

from shared.ratelimit import RateLimiter, client_address, limit_key, parse_networks
from tests.support.clock import Clock


def test_burst_then_refused_with_retry_after() -> None:
    clock = Clock(1000.0)
    limiter = RateLimiter(attempts=5, window=60, clock=clock)
    answers = [limiter.take("10.0.0.1") for _ in range(7)]
    assert answers[:5] == [None] * 5
    assert answers[5:] == [12, 12], "one request per 60/5 s after the burst"
    assert limiter.take("10.0.0.2") is None, "each key has its own budget"


def test_budget_refills_with_time_and_refusals_spend_nothing() -> None:
    clock = Clock(1000.0)
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
    clock = Clock(1000.0)
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


@pytest.mark.parametrize(
    ("address", "prefix", "key"),
    [
        ("192.0.2.7", 64, "192.0.2.7"),  # IPv4: per address
        ("2001:db8:1:2:aaaa::1", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"),  # same /64, same key
        ("2001:db8:1:3::1", 64, "2001:db8:1:3::/64"),  # the next /64: another key
        ("2001:DB8:1:2::1", 56, "2001:db8:1::/56"),
        ("2001:db8::1", 128, "2001:db8::1/128"),
        ("::ffff:192.0.2.7", 64, "192.0.2.7"),  # IPv4-mapped: the IPv4 address
        ("fe80::1%eth0", 64, "fe80::/64"),  # a zone id names no other client
        ("unknown", 64, "unknown"),
        ("not-an-address", 64, "not-an-address"),
    ],
)
def test_limit_key_is_the_ipv6_network_and_the_ipv4_address(
    address: str, prefix: int, key: str
) -> None:
    """Hardening II finding 14: one IPv6 client holds a whole /64, so its budget is the
    network's; an IPv4 address stays its own key."""
    assert limit_key(address, prefix) == key


def test_addresses_of_one_ipv6_network_share_a_budget() -> None:
    limiter = RateLimiter(attempts=2, window=60, clock=Clock(1000.0))
    first, second = (limit_key(a, 64) for a in ("2001:db8::1", "2001:db8::ffff:2"))
    assert [limiter.take(first), limiter.take(second)] == [None, None]
    assert limiter.take(limit_key("2001:db8::3", 64)) is not None, "the /64's budget is spent"
    assert limiter.take(limit_key("2001:db8:0:1::1", 64)) is None, "another /64 has its own"
