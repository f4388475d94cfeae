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


def zone_after(began: int, answered: int, current: int) -> int:
    """The zone to use after a call that began when the client was on ``began`` and was
    answered by ``answered``, the client being on ``current`` now. Only a call that itself
    moved (answered elsewhere than it began) moves the client; a call answered where it began
    leaves ``current`` alone, so it does not undo a move made meanwhile (the probe's move back
    to the preferred zone, or another call's failover)."""
    return current if answered == began else answered
