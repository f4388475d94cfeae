"""The whole two-factor story on real components (told in tests/support/story.py: a practice
switches on two factors and an employee lives with it), and no secret in clear where operators
and other services look (issue 12, DESIGN §3): while the story runs, every log line, every HTTP
error body and every event on every topic is kept, then all of it is scanned for every
password, activation code, OTP code, recovery code, token, TOTP secret and BSN the story used
or was given."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.support.cluster import Cluster, wait_for
from tests.support.logs import Lines
from tests.support.mail import SmtpSink
from tests.support.story import Witness, two_factor_story

#: Shorter secrets (the 6-digit TOTP and SMS/e-mail codes) are only looked for where a code
#: would leak (see ``leaks``); longer ones anywhere.
SHORT = 8


async def every_event(cluster: Cluster) -> list[dict[str, Any]]:
    """Every record of every topic of this test (its prefix), from the beginning: one
    consumer assigned every partition (no group to join, unlike ``read_events``, which
    costs seconds per topic), read up to the end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cluster.broker.bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        topics = [t for t in await consumer.topics() if t.startswith(cluster.prefix)]
        parts = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)

        async def read_to_end() -> bool:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                events.extend(json.loads(r.value) for r in records)
            positions = [await consumer.position(p) for p in parts]
            return all(at >= ends[p] for at, p in zip(positions, parts, strict=True))

        await wait_for(read_to_end, timeout=30, interval=0)
    finally:
        await consumer.stop()
    return events


def strings(value: Any) -> Iterator[str]:
    """Every string value in a JSON document, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def forms(kind: str, secret: str) -> set[str]:
    """The ways ``secret`` could be written out: a token also as its signature part, a TOTP
    secret also as the hex of its bytes, a recovery code also without its dashes."""
    found = {secret}
    if kind == "token" and secret.count(".") == 2:
        found.add(secret.rsplit(".", 1)[1])
    if kind == "totp_secret":
        found.add(base64.b32decode(secret + "=" * (-len(secret) % 8)).hex())
    if kind == "code":
        found.add(secret.replace("-", ""))
    return {f for f in found if f}


def leaks(documents: list[Any], witness: Witness) -> list[tuple[str, str, str]]:
    """``(kind, secret, where)`` for each secret found in ``documents`` (parsed JSON).

    A secret of ``SHORT`` characters or more is looked for as a substring of each document's
    JSON text: it cannot turn up by chance. A shorter one (a 6-digit code) would turn up by
    chance in timestamps, offsets and ids, so it counts only where a code would leak: as a
    whole string value, or after the word ``code`` (``code=123456``, ``"code": "123456"``,
    ``code 123456``) anywhere in the text."""
    found: list[tuple[str, str, str]] = []
    for document in documents:
        text = json.dumps(document)
        values = set(strings(document))
        for kind, secrets in witness.secrets.items():
            for secret in secrets:
                for form in forms(kind, secret):
                    if len(form) >= SHORT:
                        hit = form in text
                    else:
                        after_code = rf"(?i)code\W{{0,4}}{re.escape(form)}(?!\w)"
                        hit = form in values or re.search(after_code, text) is not None
                    if hit:
                        found.append((kind, form, text[:300]))
    return found


async def test_the_two_factor_story_leaves_no_secret_in_logs_error_bodies_or_events(
    cluster: Cluster, smtp_sink: SmtpSink, lines: Lines
) -> None:
    witness = await two_factor_story(cluster, smtp_sink)
    events = await every_event(cluster)
    error_bodies = [json.loads(body) for body in witness.error_bodies]

    # The scan is only worth something if there was something to find and somewhere to look.
    kinds = {kind: len(values) for kind, values in witness.secrets.items()}
    assert set(kinds) == {"password", "code", "bsn", "totp_secret", "token"}, kinds
    assert len(lines.lines) > 50 and len(events) > 50 and len(error_bodies) >= 3
    assert [line for line in lines.lines if line["message"].startswith("login failed")]

    for where, documents in (
        ("log lines", lines.lines),
        ("HTTP error bodies", error_bodies),
        ("events", events),
    ):
        found = leaks(documents, witness)
        assert not found, f"secrets in {where}: {found[:5]}"


def test_the_scan_finds_short_codes_only_where_a_code_would_leak() -> None:
    """The rule of ``leaks``, on documents made up for it (pure, no services)."""
    witness = Witness()
    witness.keep("code", "123456")
    witness.keep("token", "aGVhZA.Ym9keQ.c2lnbmF0dXJlLXBhcnQ")
    witness.keep("totp_secret", "JBSWY3DPEHPK3PXP")
    innocent = [{"time": "2026-11-28T16:12:34.123456+00:00", "offset": 9123456}]
    assert leaks(innocent, witness) == []
    for leaked in (
        {"message": "verify code=123456 failed"},
        {"data": {"value": "123456"}},
        {"detail": "signature c2lnbmF0dXJlLXBhcnQ is bad"},
        {"message": "secret 48656c6c6f21deadbeef"},
    ):
        assert leaks([leaked], witness), leaked
