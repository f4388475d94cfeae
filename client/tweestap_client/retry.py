"""Whether a call that every zone turned away comes back later, and when. Pure: no I/O, no
clock (the caller passes the time left and a random number).

A zone that answers 503 ``hasher-busy``, ``catching-up`` or ``not-evaluated`` (or 429
``too-many-requests``) with ``Retry-After`` says it did nothing of the request and when to come
back; when no zone took the call, waiting that long beats giving up, if the call's time budget
still has room for it and for the attempt after it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

#: The least time worth trying again with: a wait that would leave less is not made.
MIN_ATTEMPT_SECONDS = 0.25
#: A wait is the ``Retry-After`` plus up to this much of it, at random: clients turned away
#: together come back spread over half a second (of a 1 s ``Retry-After``), so the zone's
#: queue fills steadily instead of all at once and then running dry.
RETRY_SPREAD = 0.5
#: 429 problem types that say "too fast, come back later" without evaluating the request
#: (auth's per-address login budget). ``account-locked``, ``too-many-codes`` and the like are
#: verdicts about the account, not load: not waited out.
LOAD_429 = frozenset({"too-many-requests"})


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds only; an HTTP date or garbage: None)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def retry_wait(
    hints: Iterable[float | None], remaining: float, jitter: float, rand: float
) -> float | None:
    """Seconds to wait before trying every zone again, or None to give up. ``hints``: each
    zone's ``Retry-After`` (None: the zone gave none — a refused connection, a timeout);
    ``remaining``: the call's budget left; ``rand`` in [0, 1). The shortest hint, lengthened by
    up to ``jitter`` of it (clients turned away together do not all come back at the same
    instant; never sooner than asked), cut to leave :data:`MIN_ATTEMPT_SECONDS` of the budget.
    None when no zone gave a hint or the shortest one does not fit the budget."""
    given = [h for h in hints if h is not None]
    if not given:
        return None
    shortest = min(given)
    room = remaining - MIN_ATTEMPT_SECONDS
    if shortest > room:
        return None
    return max(0.0, min(shortest * (1 + jitter * rand), room))


def retry_order(order: Sequence[int], hinted: Collection[int]) -> list[int]:
    """The zones to try again: those that asked to be asked again (``hinted``: alive, merely
    busy) first, then the others, each group in ``order``."""
    return [z for z in order if z in hinted] + [z for z in order if z not in hinted]
