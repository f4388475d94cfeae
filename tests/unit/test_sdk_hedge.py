"""The SDK's hedging rule (tweestap_client.hedge.first_answer) with fake legs: which zones are
asked, which answer is kept, which legs are cancelled."""

from __future__ import annotations

import asyncio

import pytest
from tweestap_client.hedge import first_answer


class LegFailed(Exception):
    """A zone failed (connection error, timeout, 5xx)."""


class Verdict(Exception):
    """A server's answer that is not a success (a 4xx): final."""


class Legs:
    """Fake zones: each either answers, fails, raises a verdict or hangs until released."""

    def __init__(self, behaviour: dict[int, str]) -> None:
        self.behaviour = behaviour
        self.asked: list[int] = []
        self.cancelled: list[int] = []
        self.release = asyncio.Event()
        self.failed = asyncio.Event()

    async def __call__(self, zone: int) -> str:
        self.asked.append(zone)
        kind = self.behaviour[zone]
        try:
            if kind == "hang":
                await asyncio.Event().wait()
            if kind == "after-a-failure":
                await self.failed.wait()
        except asyncio.CancelledError:
            self.cancelled.append(zone)
            raise
        if kind == "fail":
            self.failed.set()
            raise LegFailed(f"zone {zone}")
        if kind == "verdict":
            raise Verdict(f"zone {zone}")
        return f"answer from {zone}"


async def test_a_hung_zone_is_hedged_the_first_answer_wins_and_the_slow_leg_is_cancelled() -> None:
    legs = Legs({0: "hang", 1: "answer"})
    hedged: list[int] = []
    zone, answer = await first_answer(
        [0, 1], legs, leg_failed=LegFailed, hedge_after=0.01, on_hedge=hedged.append
    )
    assert (zone, answer) == (1, "answer from 1")
    assert hedged == [1] and legs.asked == [0, 1]
    assert legs.cancelled == [0], "the loser is cancelled (its connection closed)"


async def test_without_hedge_after_a_slow_zone_is_waited_for() -> None:
    legs = Legs({0: "after-a-failure", 1: "answer"})
    task = asyncio.ensure_future(first_answer([0, 1], legs, leg_failed=LegFailed))
    await asyncio.sleep(0.05)
    assert legs.asked == [0] and not task.done(), "no second zone while the first is busy"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert legs.cancelled == [0], "cancelling the call cancels its legs"


async def test_a_failed_leg_waits_for_the_one_still_running() -> None:
    # Zone 0 is slow (answers only once zone 1 has failed); zone 1, hedged, fails at once.
    legs = Legs({0: "after-a-failure", 1: "fail"})
    zone, answer = await first_answer([0, 1], legs, leg_failed=LegFailed, hedge_after=0.01)
    assert (zone, answer) == (0, "answer from 0")


async def test_a_verdict_is_an_answer_and_ends_the_call() -> None:
    legs = Legs({0: "hang", 1: "verdict", 2: "answer"})
    with pytest.raises(Verdict):
        await first_answer([0, 1, 2], legs, leg_failed=LegFailed, hedge_after=0.01)
    assert legs.cancelled == [0] and 2 not in legs.asked


async def test_a_failure_moves_on_at_once_in_order() -> None:
    legs = Legs({0: "fail", 1: "fail", 2: "answer"})
    hedged: list[int] = []
    zone, _ = await first_answer([0, 1, 2], legs, leg_failed=LegFailed, on_hedge=hedged.append)
    assert zone == 2 and legs.asked == [0, 1, 2]
    assert hedged == [], "a move after a failure is a failover, not a hedge"


async def test_every_zone_failed_raises_the_last_failure() -> None:
    legs = Legs({1: "fail", 0: "fail"})
    with pytest.raises(LegFailed, match="zone 0"):
        await first_answer([1, 0], legs, leg_failed=LegFailed, hedge_after=0.01)
