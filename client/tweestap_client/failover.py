"""Which zones a call tries, in which order. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Collection


def call_order(current: int, count: int, down: Collection[int]) -> list[int]:
    """Every zone once, starting at ``current`` and wrapping around; zones that failed their
    last call (``down``) go last, still in that order, as a last resort. So once a zone has
    failed, only the call that found it out pays for it (a refused connection, or a timeout
    for a zone that hangs); later calls go straight to a zone that answers."""
    ring = [(current + i) % count for i in range(count)]
    return [z for z in ring if z not in down] + [z for z in ring if z in down]
