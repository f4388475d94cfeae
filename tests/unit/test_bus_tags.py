"""The application tag of records on the bus and the bounds of what an event may claim: pure
rules (shared/bus_tags.py, shared/bounds.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import bounds
from shared.bus_tags import HEADER, BusTags
from shared.events import InvalidEvent, utcnow
from shared.merge import Stamp, record
from shared.otp import time_step
from shared.sealing import Keyring, generate_key
from shared.settings import Settings

SPEC = f"k1:{generate_key()}"
TAGS = BusTags(Keyring.parse(SPEC))
VALUE = b'{"type":"login.succeeded"}'


def test_a_tag_opens_only_over_its_own_topic_key_and_value() -> None:
    headers = TAGS.headers("auth.events", b"p:e", VALUE)
    assert TAGS.valid("auth.events", b"p:e", VALUE, headers)
    assert not TAGS.valid("auth.events", b"p:e", VALUE + b" ", headers)
    assert not TAGS.valid("auth.events", b"p:x", VALUE, headers)
    assert not TAGS.valid("factors", b"p:e", VALUE, headers)
    # The key's length is covered: moving bytes between key and value breaks the tag.
    assert not TAGS.valid("auth.events", b"p:", b"e" + VALUE, headers)


def test_no_tag_two_tags_garbage_or_another_keyring_is_not_valid() -> None:
    headers = TAGS.headers("t", b"k", VALUE)
    assert not TAGS.valid("t", b"k", VALUE, None)
    assert not TAGS.valid("t", b"k", VALUE, [])
    assert not TAGS.valid("t", b"k", VALUE, headers + headers)
    assert not TAGS.valid("t", b"k", VALUE, [(HEADER, b"v1.k1.garbage")])
    assert not TAGS.valid("t", b"k", VALUE, [(HEADER, b"\xff\xfe")])
    other = BusTags(Keyring.parse(f"k1:{generate_key()}"))
    assert not other.valid("t", b"k", VALUE, headers)


def test_tags_rotate_with_the_keyring() -> None:
    new = Keyring.parse(f"k2:{generate_key()},{SPEC}")
    headers = TAGS.headers("t", b"k", VALUE)
    rotated = BusTags(new)
    assert rotated.valid("t", b"k", VALUE, headers)  # the old key still opens
    assert rotated.tag("t", b"k", VALUE).startswith(b"v1.k2.")  # the new one seals


def test_a_service_without_sealing_keys_refuses_to_start() -> None:
    with pytest.raises(ValueError, match="SEALING_KEYS"):
        BusTags.from_settings(Settings())


LIMITS = bounds.EventBounds(timedelta(seconds=120), 10)


def test_times_beyond_the_skew_are_refused() -> None:
    now = utcnow()
    LIMITS.check_time("t", now + timedelta(seconds=119), now)
    LIMITS.check_time("t", now - timedelta(days=3650), now)
    with pytest.raises(InvalidEvent, match="future"):
        LIMITS.check_time("t", now + timedelta(seconds=121), now)


def test_a_totp_step_must_lie_within_one_of_its_events_time() -> None:
    at = utcnow()
    for offset in (-1, 0, 1):
        LIMITS.check_step(time_step(at) + offset, at)
    for step in (time_step(at) + 2, time_step(at) - 2, 2**62, 0):
        with pytest.raises(InvalidEvent, match="step"):
            LIMITS.check_step(step, at)
    # A step spent before its event (a factor's confirmation) is harmless: only ahead is not.
    LIMITS.check_step(time_step(at) - 100, at, earlier=True)
    with pytest.raises(InvalidEvent, match="step"):
        LIMITS.check_step(time_step(at) + 2, at, earlier=True)


def test_versions_may_not_leap_and_stamps_not_lie_ahead() -> None:
    now = utcnow()
    stored = record({"name": "x"}, Stamp(5, now, "a"))
    LIMITS.check_record(record({"name": "y"}, Stamp(15, now, "b")), stored)
    LIMITS.check_record(record({"name": "y"}, Stamp(10, now, "b")), None)
    with pytest.raises(InvalidEvent, match="version"):
        LIMITS.check_record(record({"name": "y"}, Stamp(16, now, "b")), stored)
    with pytest.raises(InvalidEvent, match="version"):
        LIMITS.check_record(record({"name": "y"}, Stamp(2**31 - 1, now, "b")), None)
    ahead = Stamp(6, now + timedelta(days=1), "b")
    with pytest.raises(InvalidEvent, match="future"):
        LIMITS.check_record(record({"name": "y"}, ahead), stored)
    # A field stamped ahead, under a record stamp that is not (a lower version, a later time).
    with pytest.raises(InvalidEvent, match="name"):
        LIMITS.check_record(
            record({"name": "y", "email": "e"}, Stamp(7, now, "b"), {"name": ahead}), stored
        )


def test_bounds_apply_only_inside_a_consumer() -> None:
    ahead = utcnow() + timedelta(days=1)
    bounds.check_time("t", ahead)  # a service's own write: nothing checked
    bounds.check_step(2**62, ahead)
    assert bounds.current() is None
    with bounds.applying(LIMITS):
        assert bounds.current() is LIMITS
        with pytest.raises(InvalidEvent):
            bounds.check_time("t", ahead)
        with pytest.raises(InvalidEvent):
            bounds.check_step(2**62, ahead)
    assert bounds.current() is None
