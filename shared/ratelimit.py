"""A per-client request budget (token bucket), the client's address behind trusted proxies and
the budget's key for an address (an IPv6 client's network) — pure logic with an injected
clock, so a service wires it where unauthenticated requests cost real work (auth's login
endpoints: argon2)."""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """At most ``attempts`` requests per ``window`` seconds per key, as a token bucket: a full
    bucket allows a burst of ``attempts``, then one request per ``window / attempts`` seconds.
    At most ``max_keys`` buckets are kept (least recently used first out), so the memory is
    bounded whatever the number of clients; a forgotten key starts with a full bucket."""

    attempts: int
    window: float
    max_keys: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.window <= 0 or self.max_keys < 1:
            raise ValueError("attempts, window and max_keys must be positive")

    @property
    def _rate(self) -> float:
        return self.attempts / self.window

    def take(self, key: str) -> int | None:
        """Spend one request of ``key``'s budget: None if allowed, else the whole seconds to
        wait before the next one is (``Retry-After``). A refused request spends nothing."""
        now = self.clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.attempts), now)
        else:
            refill = (now - bucket.at) * self._rate
            bucket = _Bucket(min(float(self.attempts), bucket.tokens + refill), now)
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return max(1, math.ceil((1 - bucket.tokens) / self._rate))


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.0/8``, ``::1``); ValueError for anything else."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def limit_key(address: str, ipv6_prefix: int) -> str:
    """The budget ``address`` spends from: an IPv4 address itself (an IPv4-mapped IPv6 address
    too), an IPv6 address's ``/ipv6_prefix`` network (one subscriber usually holds a whole /64,
    so per /128 each of its addresses would have a fresh budget); anything else as it is."""
    parsed = _address(address.partition("%")[0])  # a zone id (fe80::1%eth0) names no client
    if parsed is None:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    return str(ipaddress.IPv6Network((parsed, ipv6_prefix), strict=False))


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: tuple[Network, ...]
) -> str:
    """:func:`resolve_client`, remembered for the last few thousand (peer, hops, proxies): it
    runs on every request, and parsing the addresses is a measurable part of a cheap one."""
    return _resolved(peer, tuple(forwarded_for), trusted)


def resolve_client(
    peer: str | None, forwarded_for: Sequence[str], trusted: tuple[Network, ...]
) -> str:
    """The address a request came from: the peer, unless the peer is a trusted proxy; then
    ``X-Forwarded-For`` (every header's hops, in order) is read from the right, past the trusted
    proxies, to the first hop they did not vouch for. Hops left of that one are the client's own
    claim and never believed; a malformed hop ends the walk at the last trusted one."""
    current = _address(peer or "")
    if current is None:
        return peer or "unknown"
    hops = [h for header in forwarded_for for h in header.split(",") if h.strip()]
    while any(current in net for net in trusted) and hops:
        previous = _address(hops.pop())
        if previous is None:
            break
        current = previous
    return str(current)


_resolved = functools.lru_cache(maxsize=4096)(resolve_client)
