"""The restart rule shared by supervised tasks and worker processes — pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """The wait before something that failed starts again (a background task,
    :mod:`shared.supervision`; a worker process, :mod:`services.process.workers`): ``first``,
    doubling per consecutive failure up to ``most``; one that ran ``most`` seconds or longer
    before it failed starts a fresh count."""

    first: float
    most: float

    def failures_after(self, failures: int, ran_seconds: float) -> int:
        """The count of consecutive failures once one that ran this long has failed."""
        return 1 if ran_seconds >= self.most else failures + 1

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th consecutive failure (1: ``first``)."""
        return float(min(self.most, self.first * 2 ** max(0, failures - 1)))
