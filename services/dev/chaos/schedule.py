"""The fault schedule of a chaos run: pure, and the same for the same seed and duration.

Faults arrive at random (exponential gaps), each with its kind, target and duration; some come
in groups that start together (several at once). Two faults that would act on the same thing
(a zone down while its PostgreSQL is stopped, a service stopped twice) never overlap: each
fault claims its resources for its duration (and a settling time after it), and a fault whose
resources are busy is left out of the schedule rather than moved.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: What the nemesis can do (docs/chaos.md, "The fault model").
KILL = "kill"  # SIGKILL of one service process; the supervisor restarts it
STOP = "stop"  # SIGSTOP of one service process, SIGCONT after the duration
BROKER_PAUSE = "broker-pause"  # SIGSTOP of the broker (it keeps topics in memory: never killed)
POSTGRES_DOWN = "postgres-down"  # a zone's PostgreSQL stopped, started after the duration
ZONE_DOWN = "zone-down"  # every service of a zone SIGKILLed and held, its PostgreSQL stopped
PARTITION = "partition"  # a zone's services cut off from the broker (nftables, docs/chaos.md)
SATURATION = "saturation"  # a burst of logins at and above what the machine can hash
KINDS = (KILL, STOP, BROKER_PAUSE, POSTGRES_DOWN, ZONE_DOWN, PARTITION, SATURATION)
#: How often each kind is picked (relative); whole-zone faults are rarer, they last longer.
WEIGHTS = {
    KILL: 6,
    STOP: 4,
    BROKER_PAUSE: 2,
    POSTGRES_DOWN: 2,
    ZONE_DOWN: 1,
    PARTITION: 2,
    SATURATION: 2,
}
#: Seconds each kind lasts (low, high); a kill is instant (the restart is the supervisor's).
DURATIONS = {
    KILL: (0.0, 0.0),
    STOP: (1.0, 8.0),
    BROKER_PAUSE: (2.0, 10.0),
    POSTGRES_DOWN: (3.0, 12.0),
    ZONE_DOWN: (5.0, 20.0),
    PARTITION: (3.0, 15.0),
    SATURATION: (5.0, 15.0),
}
#: After a fault ends its resources stay claimed this long: a process restarting, a zone
#: catching up, before the next fault on the same thing.
SETTLE_SECONDS = 5.0
#: The first fault comes after this (the load starts first), and every fault ends by the end.
WARM_UP_SECONDS = 5.0
#: Mean seconds between fault arrivals (a group counts once): 10 minutes give about 75.
MEAN_GAP_SECONDS = 8.0
#: The chance that an arrival is a group of two or three faults at once.
GROUP_CHANCE = 0.2
#: Claimed by a zone's PostgreSQL or the whole zone going down: never both zones at once (a
#: service of the other zone may still be killed or stopped meanwhile).
OUTAGE = "outage"
SERVICES = ("auth", "enrolment", "certs", "notifier")
ZONES = ("a", "b")


@dataclass(frozen=True)
class Fault:
    """One fault: at ``at`` seconds into the run, ``kind`` on ``target`` for ``duration`` s.
    ``target``: ``service-zone`` (kill, stop), a zone (PostgreSQL, zone, partition), the
    ``broker``, or ``logins`` (saturation). ``group``: faults of one group start together."""

    at: float
    kind: str
    target: str
    duration: float
    group: int

    @property
    def end(self) -> float:
        return self.at + self.duration

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        return cls(
            float(data["at"]),
            str(data["kind"]),
            str(data["target"]),
            float(data["duration"]),
            int(data["group"]),
        )


def resources(kind: str, target: str, services: Sequence[str] = SERVICES) -> frozenset[str]:
    """What a fault acts on: two faults that share one never overlap."""
    if kind in (KILL, STOP):
        return frozenset({target})
    if kind == POSTGRES_DOWN:
        return frozenset({f"postgres-{target}", OUTAGE})
    if kind == ZONE_DOWN:
        return frozenset(
            {f"postgres-{target}", f"net-{target}", OUTAGE} | {f"{s}-{target}" for s in services}
        )
    if kind == PARTITION:
        return frozenset({f"net-{target}"})
    if kind == BROKER_PAUSE:
        return frozenset({"broker"})
    return frozenset({"logins"})


def _target(kind: str, rng: random.Random, services: Sequence[str], zones: Sequence[str]) -> str:
    if kind in (KILL, STOP):
        return f"{rng.choice(services)}-{rng.choice(zones)}"
    if kind in (POSTGRES_DOWN, ZONE_DOWN, PARTITION):
        return rng.choice(zones)
    return "broker" if kind == BROKER_PAUSE else "logins"


def schedule(
    seed: int,
    seconds: float,
    *,
    kinds: Sequence[str] = KINDS,
    services: Sequence[str] = SERVICES,
    zones: Sequence[str] = ZONES,
    mean_gap: float = MEAN_GAP_SECONDS,
) -> list[Fault]:
    """The faults of a run of ``seconds`` from ``seed``, ordered by start. Only ``kinds`` are
    picked (e.g. without ``partition`` where nftables is missing); the same arguments always
    give the same list."""
    rng = random.Random(f"tweestap-chaos:{seed}")
    weights = [WEIGHTS[k] for k in kinds]
    busy: dict[str, float] = {}  # resource → until when it is claimed
    faults: list[Fault] = []
    at, group = WARM_UP_SECONDS, 0
    while True:
        at += rng.expovariate(1.0 / mean_gap)
        if at >= seconds:
            return faults
        size = rng.choice((2, 3)) if rng.random() < GROUP_CHANCE else 1
        for _ in range(size):
            kind = rng.choices(kinds, weights)[0]
            low, high = DURATIONS[kind]
            duration = round(rng.uniform(low, high), 3)
            target = _target(kind, rng, services, zones)
            claimed = resources(kind, target, services)
            start = round(at, 3)
            if start + duration > seconds or any(busy.get(r, 0.0) > start for r in claimed):
                continue
            for r in claimed:
                busy[r] = start + duration + SETTLE_SECONDS
            faults.append(Fault(start, kind, target, duration, group))
        group += 1
