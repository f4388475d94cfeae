"""The chaos run's fault schedule (services/dev/chaos/schedule.py): the same seed gives the
same faults, and no two faults act on the same thing at once."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from services.dev.chaos import schedule as s
from services.dev.chaos.schedule import Fault, resources, schedule

seeds = st.integers(min_value=0, max_value=2**32)
durations = st.floats(min_value=10.0, max_value=900.0)


@given(seeds, durations)
def test_the_same_seed_and_duration_give_the_same_schedule(seed: int, seconds: float) -> None:
    assert schedule(seed, seconds) == schedule(seed, seconds)


def test_another_seed_gives_another_schedule() -> None:
    assert schedule(1, 600) != schedule(2, 600)


@given(seeds, durations)
def test_faults_start_after_the_warm_up_and_end_by_the_end(seed: int, seconds: float) -> None:
    faults = schedule(seed, seconds)
    assert [f.at for f in faults] == sorted(f.at for f in faults)
    for fault in faults:
        assert fault.at >= s.WARM_UP_SECONDS and fault.end <= seconds
        low, high = s.DURATIONS[fault.kind]
        assert low <= fault.duration <= high


@given(seeds, durations)
def test_faults_on_the_same_thing_never_overlap(seed: int, seconds: float) -> None:
    faults = schedule(seed, seconds)
    for index, one in enumerate(faults):
        for other in faults[index + 1 :]:
            if resources(one.kind, one.target) & resources(other.kind, other.target):
                assert other.at >= one.end + s.SETTLE_SECONDS, (one, other)


def test_never_both_zones_down_at_once() -> None:
    for seed in range(50):
        outages = [f for f in schedule(seed, 600) if f.kind in (s.ZONE_DOWN, s.POSTGRES_DOWN)]
        for one, other in itertools.pairwise(outages):
            assert other.at >= one.end, (one, other)


def test_ten_minutes_hold_every_kind_and_at_least_fifty_faults() -> None:
    faults = schedule(7, 600)
    assert len(faults) >= 50
    assert set(Counter(f.kind for f in faults)) == set(s.KINDS)
    groups = Counter(f.group for f in faults)
    assert max(groups.values()) >= 2, "several at once"


def test_only_the_kinds_asked_for() -> None:
    kinds = [k for k in s.KINDS if k != s.PARTITION]
    assert all(f.kind != s.PARTITION for f in schedule(7, 600, kinds=kinds))


def test_a_fault_survives_json() -> None:
    for fault in schedule(3, 300):
        assert Fault.from_json(fault.to_json()) == fault


def test_targets_name_what_the_kind_acts_on() -> None:
    for fault in schedule(11, 600):
        if fault.kind in (s.KILL, s.STOP):
            service, zone = fault.target.rsplit("-", 1)
            assert service in s.SERVICES and zone in s.ZONES
        elif fault.kind in (s.POSTGRES_DOWN, s.ZONE_DOWN, s.PARTITION):
            assert fault.target in s.ZONES
        elif fault.kind == s.BROKER_PAUSE:
            assert fault.target == "broker"
        else:
            assert fault.target == "logins"
