"""Faults of what the services stand on, with both zones as real OS processes: the broker
frozen for 30 s, zone a's PostgreSQL stopped, and zone a's notifier killed mid-delivery.

What each proves is said in its docstring; figures (events counted, drain and catch-up times)
go to the log (``-o log_cli=true`` shows them), never into an assertion.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import secrets
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from prometheus_client.parser import text_string_to_metric_families
from tweestap_client import TweestapClient, TweestapError

from services.auth.consumers import REPLICATED_AUTH_EVENTS
from services.dev.chaos.load import factor_changed_mail
from services.dev.deployment import Deployment, run_sync
from services.dev.infra import free_port
from shared.partition_ends import partition_offsets
from tests.support.bus import tags
from tests.support.deployment import (
    CATCH_UP_LIMIT_SECONDS,
    FAILED_LOGINS,
    NEW_PASSWORD,
    PASSWORD,
    Account,
    auth_zones,
    change_password,
    failures_in,
    fetch_rows,
    log,
    new_account,
    renew_status,
    revoked_in,
    same_password,
    sid_of,
    wait_until,
)

#: How long the broker stays frozen in the broker test.
BROKER_OUTAGE_SECONDS = 30.0
#: Between two rounds of one client during an outage: a steady trickle, not a flood (the
#: machine is small and shared).
ROUND_PAUSE_SECONDS = 0.25
#: The topics auth writes to and reads from the other zone.
REVOCATIONS = "sts.revocations"
AUTH_EVENTS = "auth.events"
TOPICS = (REVOCATIONS, AUTH_EVENTS)


# -- helpers ---------------------------------------------------------------------------------


async def _readiness(deployment: Deployment, service: str, zone: str) -> tuple[int, Any]:
    """``/readyz``'s status and body (what is failing when not ready)."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{deployment.ops_url(service, zone)}/readyz") as response,
    ):
        return response.status, await response.json(content_type=None)


async def _ready(deployment: Deployment, service: str, zone: str) -> int:
    return (await _readiness(deployment, service, zone))[0]


async def _consumed(deployment: Deployment, zone: str, topic: str) -> Counter[str]:
    """Auth's ``events_consumed_total`` of ``topic`` in ``zone``, by outcome."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{deployment.ops_url('auth', zone)}/metrics") as response,
    ):
        text = await response.text()
    outcomes: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("events_consumed_total") and sample.labels["topic"] == topic:
                outcomes[sample.labels["outcome"]] += int(sample.value)
    return outcomes


async def _end_offsets(deployment: Deployment, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=deployment.broker_bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        held = await partition_offsets(consumer, partitions)
        return {tp.partition: offsets.stop for tp, offsets in held.items()}
    finally:
        await consumer.stop()


async def _records_since(
    deployment: Deployment, topic: str, start: dict[int, int]
) -> list[dict[str, Any]]:
    """Every record of ``topic`` from offsets ``start`` to its end now, as envelopes."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=deployment.broker_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(start)]
        held = await partition_offsets(consumer, partitions)
        ends = {tp: offsets.stop for tp, offsets in held.items()}
        for tp in partitions:
            consumer.seek(tp, start[tp.partition])
        events: list[dict[str, Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                events.extend(json.loads(r.value) for r in records if r.value)
        return events
    finally:
        await consumer.stop()


@dataclass
class Activity:
    """What clients of one zone did during an outage."""

    zone: str
    operations: int = 0
    failures: list[str] = field(default_factory=list)
    #: Sessions logged out (their ``sid``) and the tokens they had, for checks afterwards.
    revoked: dict[str, str] = field(default_factory=dict)
    failed_logins: int = 0


async def _session_round(zones: list[dict[str, str]], account: Account, activity: Activity) -> None:
    """Log in with the password, renew, log out: three operations, each must succeed."""
    async with TweestapClient(zones) as client:
        for kind in ("login", "renew", "logout"):
            activity.operations += 1
            try:
                if kind == "login":
                    step = await client.login(account.practice, account.username, account.password)
                    assert step.next == "done", f"login stopped at {step.next}"
                elif kind == "renew":
                    await client.renew()
                else:
                    token = client.token
                    assert token is not None
                    await client.logout()
                    activity.revoked[sid_of(token)] = token
            except Exception as exc:  # every kind of failure is what is counted
                activity.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                return


async def _wrong_password(
    zones: list[dict[str, str]], account: Account, activity: Activity
) -> None:
    """A wrong password must be refused (401), not fail for want of a zone."""
    async with TweestapClient(zones) as client:
        activity.operations += 1
        try:
            await client.login(account.practice, account.username, "Fout-Wachtwoord-0000!")
            activity.failures.append("a wrong password was accepted")
        except TweestapError as exc:
            if exc.status == 401:
                activity.failed_logins += 1
            else:
                activity.failures.append(f"wrong password answered {exc.status}")
        except Exception as exc:
            activity.failures.append(f"wrong password: {type(exc).__name__}: {exc}")


async def _keep_working(
    zones: list[dict[str, str]],
    user: Account,
    target: Account,
    activity: Activity,
    until: float,
) -> None:
    """Session rounds until ``until``, with ``FAILED_LOGINS`` wrong passwords among them."""
    rounds = 0
    while time.monotonic() < until:
        await _session_round(zones, user, activity)
        if activity.failed_logins < FAILED_LOGINS and rounds % 3 == 0:
            await _wrong_password(zones, target, activity)
        rounds += 1
        await asyncio.sleep(ROUND_PAUSE_SECONDS)


async def _outbox(deployment: Deployment, zone: str) -> list[asyncpg.Record]:
    return await fetch_rows(
        deployment.dsn("auth", zone), "SELECT id, topic, payload->>'type' AS type FROM outbox"
    )


# -- zone a's notifier killed mid-delivery ---------------------------------------------------

#: Zone a's notifier, for these tests: our mailbox, and a short lease (three send timeouts)
#: so that a message whose sender died is claimed again within seconds.
NOTIFIER_ENV = {
    "TWEESTAP_SEND_TIMEOUT_SECONDS": "2",
    "TWEESTAP_DISPATCH_SWEEP_SECONDS": "0.2",
}
PRACTICE_EMAIL = "praktijk@fysio-fault.nl"


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) keeping every message it accepts as a file, which can
    hold one session at a stage: ``rcpt`` (nothing of the message sent yet) or ``data`` (the
    message taken and stored, its ``250`` not yet answered)."""

    folder: Path
    hold_at: str | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str, _: Any
    ) -> str:
        envelope.rcpt_tos.append(address)
        if self.hold_at == "rcpt":
            await self._hold()
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:6]}.eml"
        (self.folder / name).write_bytes(envelope.original_content or b"")
        if self.hold_at == "data":
            await self._hold()
        return "250 Message accepted"

    async def _hold(self) -> None:
        self.hold_at = None  # only the first session is held
        self.reached.set()
        await asyncio.to_thread(self.release.wait, CATCH_UP_LIMIT_SECONDS)

    def arm(self, stage: str) -> None:
        self.reached.clear()
        self.release.clear()
        self.hold_at = stage

    def copies(self, request_id: uuid.UUID) -> list[EmailMessage]:
        """The messages of one request, parsed."""
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            if parsed["X-Tweestap-Request"] == str(request_id):
                found.append(parsed)
        return found


@pytest.fixture(scope="module")
def mailbox(
    fault_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mailbox]:
    """Zone a's notifier restarted to deliver to a :class:`Mailbox` with a short lease, and
    zone b's held, so that zone a's takes every request (``notify.requests`` is read once
    across the zones). Afterwards both run as before."""
    deployment = fault_deployment
    box = Mailbox(tmp_path_factory.mktemp("mailbox"))
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    overrides = {**NOTIFIER_ENV, "TWEESTAP_SMTP_PORT": str(port)}
    saved = {name: deployment.env.get(name) for name in overrides}
    deployment.restore()
    try:
        deployment.hold("notifier", "b")
        deployment.hold("notifier", "a")
        deployment.env.update(overrides)  # read when the process is started
        deployment.release("notifier", "a")
        started = time.monotonic()
        run_sync(
            wait_until(lambda: _holds_requests(deployment), "zone a's notifier consuming", 120)
        )
        log.info("zone a's notifier got notify.requests after %.1f s", time.monotonic() - started)
        yield box
    finally:
        for name, value in saved.items():
            if value is None:
                deployment.env.pop(name, None)
            else:
                deployment.env[name] = value
        deployment.hold("notifier", "a")
        deployment.restore()
        controller.stop()


async def _holds_requests(deployment: Deployment) -> bool:
    """Whether zone a's notifier has been assigned ``notify.requests`` (it reports the lag of
    what it is assigned)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{deployment.ops_url('notifier', 'a')}/metrics") as response,
    ):
        text = await response.text()
    return any(
        sample.name.endswith("consumer_lag") and sample.labels["topic"] == "notify.requests"
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )


async def _request_email(deployment: Deployment, practice: str, recipient: str) -> uuid.UUID:
    """Put a ``notify.requested`` on the topic, as auth or enrolment would."""
    event = factor_changed_mail(practice, recipient, "Fault Test", "fault-test")
    # Sent as a Tweestap service would: tagged under the deployment's own sealing keys.
    value, key = event.model_dump_json().encode(), event.key.encode()
    keys = (deployment.root / "dev" / "sealing-keys").read_text().strip()
    producer = AIOKafkaProducer(bootstrap_servers=deployment.broker_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            "notify.requests",
            value,
            key=key,
            headers=tags(keys).headers("notify.requests", key, value),
        )
    finally:
        await producer.stop()
    return event.id


async def _message(deployment: Deployment, request_id: uuid.UUID) -> asyncpg.Record | None:
    rows = await fetch_rows(
        deployment.dsn("notifier", "a"),
        "SELECT status, attempts FROM messages WHERE request_id = $1",
        request_id,
    )
    return rows[0] if rows else None


async def _kill_mid_delivery(
    deployment: Deployment, mailbox: Mailbox, stage: str
) -> tuple[uuid.UUID, list[EmailMessage]]:
    """Request an e-mail; when its SMTP session reaches ``stage``, SIGKILL zone a's notifier;
    return the request id and the copies the mailbox holds once zone a's restarted notifier
    has recorded the message delivered."""
    practice = f"notify-{secrets.token_hex(4)}"
    await deployment.bootstrap(practice, "admin", PASSWORD, email=PRACTICE_EMAIL)

    async def known() -> bool:
        rows = await fetch_rows(
            deployment.dsn("notifier", "a"), "SELECT 1 FROM practices WHERE id = $1", practice
        )
        return bool(rows)

    await wait_until(known, "the practice in zone a's notifier", CATCH_UP_LIMIT_SECONDS)
    mailbox.arm(stage)
    request_id = await _request_email(deployment, practice, f"{practice}@example.org")
    assert await asyncio.to_thread(mailbox.reached.wait, CATCH_UP_LIMIT_SECONDS), "no delivery"
    sending = await _message(deployment, request_id)
    assert sending is not None and sending["status"] == "sending", "zone a is delivering it"
    restarts = deployment.restarts("notifier", "a")
    deployment.kill("notifier", "a", signal.SIGKILL)
    killed_at = time.monotonic()
    mailbox.release.set()
    await asyncio.to_thread(deployment.wait_restarted, "notifier", "a", restarts)

    async def delivered() -> bool:
        row = await _message(deployment, request_id)
        return row is not None and row["status"] == "delivered"

    await wait_until(delivered, "delivered after the restart", CATCH_UP_LIMIT_SECONDS)
    row = await _message(deployment, request_id)
    assert row is not None
    log.info(
        "notifier zone a killed at SMTP %s: delivered %.1f s after the kill, attempt %d",
        stage,
        time.monotonic() - killed_at,
        row["attempts"],
    )
    assert row["attempts"] == 2, "the killed attempt, then one more"
    return request_id, mailbox.copies(request_id)


async def test_notifier_killed_before_the_server_took_the_message_delivers_once(
    fault_deployment: Deployment, mailbox: Mailbox
) -> None:
    """Zone a's notifier is SIGKILLed mid-session, before the SMTP server has the message
    (held at RCPT): the restarted notifier claims it again when the lease runs out and it is
    delivered exactly once."""
    request_id, copies = await _kill_mid_delivery(fault_deployment, mailbox, "rcpt")
    assert len(copies) == 1, f"{len(copies)} copies"
    assert str(copies[0]["Message-ID"]) == f"<{request_id}@fysio-fault.nl>"


async def test_notifier_killed_after_the_server_took_the_message_resends_same_message_id(
    fault_deployment: Deployment, mailbox: Mailbox
) -> None:
    """Zone a's notifier is SIGKILLed after the SMTP server took the message but before its
    250 arrived (the acknowledgement is lost with the process): the message is sent again —
    at least once, not exactly once — and both copies carry the same Message-ID, so a mail
    client shows one message."""
    request_id, copies = await _kill_mid_delivery(fault_deployment, mailbox, "data")
    assert len(copies) == 2, f"{len(copies)} copies"
    assert {str(m["Message-ID"]) for m in copies} == {f"<{request_id}@fysio-fault.nl>"}
    texts = {str(_text(m)) for m in copies}
    assert len(texts) == 1, "the same message twice"


def _text(message: EmailMessage) -> object:
    body = message.get_body(("plain",))
    assert body is not None
    return body.get_content()


# -- the broker frozen -----------------------------------------------------------------------


async def test_broker_outage_loses_nothing_and_applies_nothing_twice(
    deployment: Deployment,
) -> None:
    """The broker is frozen (SIGSTOP) for ``BROKER_OUTAGE_SECONDS``: clients of each zone (SDK
    with that zone only) log in, renew and log out all the while, without one failure. When
    the broker returns, every event queued in either zone's outbox reaches its topic (none
    lost), every revocation and failed attempt is in the other zone, and each zone's consumer
    applied each revocation event exactly once (its ``applied`` count equals the distinct
    events, duplicates on the topic were recognised as such)."""
    zones = auth_zones(deployment)
    users = {z: await new_account(deployment, f"broker-{z}") for z in ("a", "b")}
    targets = {z: await new_account(deployment, f"broker-t{z}") for z in ("a", "b")}
    start = {t: await _end_offsets(deployment, t) for t in TOPICS}
    before = {z: {t: await _consumed(deployment, z, t) for t in TOPICS} for z in ("a", "b")}

    deployment.broker_down()
    down_at = time.monotonic()
    activity = {z: Activity(z) for z in ("a", "b")}
    until = down_at + BROKER_OUTAGE_SECONDS
    await asyncio.gather(
        *(
            _keep_working([zones[i]], users[z], targets[z], activity[z], until)
            for i, z in enumerate(("a", "b"))
        )
    )
    queued = {z: await _outbox(deployment, z) for z in ("a", "b")}
    # Readiness is "can this instance serve": auth can (events wait in the outbox), so an
    # orchestrator must not take both zones out; the notifier has no work without the broker.
    readiness = {z: await _readiness(deployment, "auth", z) for z in ("a", "b")}
    notifier = {z: await _ready(deployment, "notifier", z) for z in ("a", "b")}
    deployment.broker_up()
    for z in ("a", "b"):
        status, body = readiness[z]
        assert status == 200, f"zone {z}'s auth was taken out without the broker: {body}"
        assert body["status"] == "degraded" and body["checks"]["broker"] is False, body
        assert notifier[z] == 503, f"zone {z}'s notifier said ready without the broker"
    up_at = time.monotonic()

    for z in ("a", "b"):
        log.info(
            "broker outage %.1f s: zone %s: %d operations, %d sessions ended, %d wrong "
            "passwords, %d events queued in auth's outbox",
            up_at - down_at,
            z,
            activity[z].operations,
            len(activity[z].revoked),
            activity[z].failed_logins,
            len(queued[z]),
        )
        assert activity[z].failures == [], f"zone {z} failed while the broker was away"
        assert activity[z].revoked, f"zone {z} ended no session during the outage"
        assert activity[z].failed_logins == FAILED_LOGINS
        assert queued[z], f"zone {z}'s outbox queued nothing: the broker was not away"

    async def drained() -> bool:
        return not any([await _outbox(deployment, z) for z in ("a", "b")])

    await wait_until(drained, "both outboxes drained", CATCH_UP_LIMIT_SECONDS)
    drained_at = time.monotonic()
    for mine, other in (("a", "b"), ("b", "a")):
        sids = set(activity[mine].revoked)

        async def revoked(other: str = other, sids: set[str] = sids) -> bool:
            return await revoked_in(deployment, other, sids) == sids

        async def failures(other: str = other, mine: str = mine) -> bool:
            practice = targets[mine].practice
            return await failures_in(deployment, other, practice, mine) >= FAILED_LOGINS

        await wait_until(revoked, f"zone {mine}'s logouts in zone {other}", CATCH_UP_LIMIT_SECONDS)
        await wait_until(
            failures, f"zone {mine}'s failures in zone {other}", CATCH_UP_LIMIT_SECONDS
        )
        practice = targets[mine].practice
        assert await failures_in(deployment, other, practice, mine) == FAILED_LOGINS
    caught_up_at = time.monotonic()

    # None lost: every queued event is on its topic (read back, counted by envelope id).
    queued_ids = {str(r["id"]): r["topic"] for z in ("a", "b") for r in queued[z]}
    window = {t: await _records_since(deployment, t, start[t]) for t in TOPICS}
    on_topic = Counter(e["id"] for records in window.values() for e in records)
    missing = [i for i in queued_ids if on_topic[i] == 0]
    published_twice = sum(1 for i in queued_ids if on_topic[i] > 1)
    assert missing == [], f"{len(missing)} of {len(queued_ids)} queued events never published"

    # None applied twice: each zone's auth consumer applied each event it takes exactly once
    # (its ``applied`` count is the number of distinct such events, the rest are duplicates).
    for z in ("a", "b"):
        for topic in TOPICS:
            wanted = {e["id"] for e in window[topic] if _applies(z, topic, e)}

            async def applied(z: str = z, topic: str = topic, n: int = len(wanted)) -> bool:
                now = await _consumed(deployment, z, topic)
                return now["applied"] - before[z][topic]["applied"] >= n

            await wait_until(applied, f"zone {z} applied {topic}", CATCH_UP_LIMIT_SECONDS)
            after = await _consumed(deployment, z, topic)
            counts = {k: after[k] - before[z][topic][k] for k in ("applied", "duplicate")}
            log.info(
                "zone %s auth consumer, %s: %d records in the window, %d for this zone, "
                "applied %d, recognised as duplicates %d",
                z,
                topic,
                len(window[topic]),
                len(wanted),
                counts["applied"],
                counts["duplicate"],
            )
            assert counts["applied"] == len(wanted), f"zone {z}: {topic} applied twice"
            assert after["dead_letter"] == before[z][topic]["dead_letter"]
    log.info(
        "broker back: outboxes drained after %.1f s, the other zone caught up after %.1f s; "
        "%d queued events all published, %d of them more than once (the relay is "
        "at-least-once: a batch sent into the frozen broker is sent again)",
        drained_at - up_at,
        caught_up_at - up_at,
        len(queued_ids),
        published_twice,
    )


def _applies(zone: str, topic: str, event: dict[str, Any]) -> bool:
    """Whether ``zone``'s auth applies ``event`` (its consumer's filter, ``accept``)."""
    if topic == REVOCATIONS:
        return True
    origin = str(event["source"]).rpartition("@")[2]
    return origin != zone and event["type"] in REPLICATED_AUTH_EVENTS


# -- zone a's PostgreSQL stopped -------------------------------------------------------------


async def test_zone_a_postgres_down_zone_b_serves_and_zone_a_catches_up(
    deployment: Deployment,
) -> None:
    """Zone a's PostgreSQL stops: SDK clients configured [a, b] keep logging in, renewing (a
    token zone a issued, too), changing a password and being refused a wrong password — all
    through zone b, with zero failed operations — while zone a's auth reports not ready and
    answers 503 (a login: ``not-evaluated``; before the fix: 500 with a stack trace). When
    it starts again, zone a catches up with what zone b wrote (logouts, the password change
    and the session cutoff it brings, failed attempts) and serves again on its own. Until it
    has caught up it never renews a session zone b ended (503 ``catching-up``, then 401):
    before the fix it renewed one for the ~18 s its consumer took to rejoin its group."""
    zones = auth_zones(deployment)
    user = await new_account(deployment, "pg-user")
    changer = await new_account(deployment, "pg-change")
    target = await new_account(deployment, "pg-target")
    async with TweestapClient(zones) as early:
        step = await early.login(changer.practice, changer.username, changer.password)
        assert step.next == "done" and early.zone == 0, "logged in in zone a before the outage"

        deployment.postgres_down("a")
        down_at = time.monotonic()
        try:
            assert await _ready(deployment, "auth", "a") == 503, "zone a's auth is not ready"
            status, problem = await _plain_login(deployment, "a", user)
            # An outage, not an internal error; and one that says nothing was done, so the
            # SDK may take the password to zone b (Hardening II finding 10).
            assert (status, problem) == (503, "not-evaluated"), (status, problem)
            activity = Activity("b")
            await early.renew()  # zone a issued it; zone b renews it
            assert early.zone == 1, "the renewal was served by zone b"
            await change_password(early, changer)
            changed_at = time.monotonic()
            for _ in range(3):
                await _session_round(zones, user, activity)
            while activity.failed_logins < FAILED_LOGINS and not activity.failures:
                await _wrong_password(zones, target, activity)
            assert activity.failures == [], "an operation failed while zone a's database was away"
            assert await _ready(deployment, "auth", "a") == 503, "still not ready"
            log.info(
                "zone a's PostgreSQL down %.1f s: %d operations through zone b, none failed "
                "(the password change %.1f s after the stop)",
                time.monotonic() - down_at,
                activity.operations + 2,
                changed_at - down_at,
            )
        finally:
            deployment.postgres_up("a")
        up_at = time.monotonic()

    reasons: list[str] = []
    probes: Counter[int] = Counter()
    ended_in_b = next(iter(activity.revoked.values()))

    async def ready_again() -> bool:
        status, body = await _readiness(deployment, "auth", "a")
        if status != 200:
            reasons.append(json.dumps(body.get("failing") or body.get("checks")))
        probes[await renew_status(deployment, "a", ended_in_b)] += 1
        return status == 200

    await wait_until(ready_again, "zone a's auth ready", CATCH_UP_LIMIT_SECONDS)
    ready_at = time.monotonic()
    sids = set(activity.revoked)

    async def caught_up() -> bool:
        probes[await renew_status(deployment, "a", ended_in_b)] += 1
        revoked = await revoked_in(deployment, "a", sids) == sids
        failures = await failures_in(deployment, "a", target.practice, "b") >= FAILED_LOGINS
        return revoked and failures and await same_password(deployment, changer)

    await wait_until(caught_up, "zone a caught up with zone b", CATCH_UP_LIMIT_SECONDS)
    log.info(
        "zone a's PostgreSQL back: auth ready after %.1f s (not ready meanwhile: %s), caught "
        "up after %.1f s",
        ready_at - up_at,
        ", ".join(sorted(set(reasons))) or "-",
        time.monotonic() - up_at,
    )
    assert await failures_in(deployment, "a", target.practice, "b") == FAILED_LOGINS
    log.info("zone a renewing a session zone b ended, until caught up: %s", dict(probes))
    assert probes[200] == 0, "zone a renewed a session ended in zone b before catching up"

    # Zone a serves on its own, with zone b's state.
    only_a = [zones[0]]
    async with TweestapClient(only_a) as client:
        step = await client.login(changer.practice, changer.username, NEW_PASSWORD)
        assert step.next == "done" and client.zone == 0
        await client.renew()
        with pytest.raises(TweestapError) as refused:
            await client.login(changer.practice, changer.username, PASSWORD)
        assert refused.value.status == 401, "the old password no longer works in zone a"
    for token in activity.revoked.values():
        assert await renew_status(deployment, "a", token) == 401, "ended in zone b, so in a"


async def _plain_login(deployment: Deployment, zone: str, account: Account) -> tuple[int, str]:
    """A password login straight to ``zone``'s auth: the status and the problem's slug."""
    payload = {"practice": account.practice, "username": account.username, "password": "x"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{deployment.url('auth', zone)}/v1/login", json=payload) as response,
    ):
        body = await response.json(content_type=None)
        return response.status, str(body.get("type", "")).rsplit("/", 1)[-1]
