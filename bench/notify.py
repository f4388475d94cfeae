"""``tweestap bench notify``: login-code e-mails through ONE notifier server at a fixed rate.

A private stack in a temporary folder (embedded PostgreSQL, Tansu broker, the notifier server
process) and an SMTP sink (aiosmtpd) in this process. ``login_code`` requests, each to its own
recipient with a sealed code, go to ``notify.requests`` at ``--rate`` per second (open loop:
the schedule does not wait for deliveries); the latency is from the request's envelope time
(its send time) to the moment the sink accepts the message (SMTP DATA), both clocks of this
process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.parser
import email.policy
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from bench import harness
from bench.harness import (
    READY_TIMEOUT_S,
    CpuMeter,
    log,
    percentile,
    rss_mb,
    target,
)
from services.dev.infra import Broker, Postgres, free_port
from services.notifier.settings import NotifierSettings
from shared.bus import ensure_topics
from shared.db import ensure_database
from shared.events import Envelope, NotifyRequest, PracticeUpserted, notify_aad, utcnow
from shared.sealing import Keyring, generate_key
from shared.topics import DIRECTORY_PRACTICES, NOTIFY_REQUESTS

PRACTICE = "bench"
PRACTICE_NAME = "Bench Fysio"
PRACTICE_EMAIL = "praktijk@bench.example.nl"
SOURCE = "bench@a"
PARAMETERS: dict[str, str | int] = {
    "employee_name": "Bench",
    "practice_name": PRACTICE_NAME,
    "expires_minutes": 5,
}
#: The target: p99 from request to SMTP acceptance at this rate.
TARGET_RATE = 100.0
TARGET_P99_MS = 200.0
#: A probe that is not delivered in this time is sent again (it may have raced the practice).
PROBE_RETRY_S = 3.0
POLL_S = 0.01
NOTE = (
    "The request generator and the SMTP sink (this process), PostgreSQL, the broker and the "
    f"notifier server share this machine's {os.cpu_count()} cores; figures are worse than on "
    "dedicated machines. In cpu_s, 'outside' is CPU that other processes on the machine used "
    "meanwhile."
)


# --------------------------------------------------------------------------- the SMTP sink


class Sink:
    """aiosmtpd handler: accepts everything and records, per message, ``time.time()`` when
    DATA is handled and the ``X-Tweestap-Request`` header. Runs in the controller's thread."""

    def __init__(self) -> None:
        self._accepted: list[tuple[str, float]] = []
        self._parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        now = time.time()
        raw = envelope.original_content or b""
        request_id = str(self._parser.parsebytes(raw).get("X-Tweestap-Request", "")).strip()
        with self._lock:
            self._accepted.append((request_id, now))
        return "250 Accepted"

    def snapshot(self) -> list[tuple[str, float]]:
        """``(request id, acceptance time)`` per message received, in order."""
        with self._lock:
            return list(self._accepted)


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    log(f"SMTP sink on 127.0.0.1:{port}")
    try:
        yield sink, port
    finally:
        controller.stop()


# --------------------------------------------------------------------------- the stack


@dataclass
class NotifierStack:
    folder: Path
    settings: NotifierSettings
    server: subprocess.Popen[bytes]
    server_log: Path
    port: int
    postgres_pid: int | None
    broker_pid: int | None

    @property
    def keyring(self) -> Keyring:
        return Keyring.parse(self.settings.sealing_keys.get_secret_value())

    def ensure_alive(self) -> None:
        """A server that died during the load makes the figures meaningless."""
        if self.server.poll() is not None:
            code = self.server.returncode
            raise RuntimeError(f"notifier exited ({code}):\n{harness.tail(self.server_log)}")

    def meter(self) -> CpuMeter:
        return CpuMeter(
            {
                "server": [self.server.pid],
                "postgres": [self.postgres_pid],
                "broker": [self.broker_pid],
                "bench": [os.getpid()],
            },
            trees=frozenset({"postgres"}),
        )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def notifier_stack(smtp_port: int) -> Iterator[NotifierStack]:
    """PostgreSQL, the broker and one notifier server in a fresh folder under /tmp; stopped
    and removed on the way out, also on Ctrl-C or SIGTERM."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    folder = Path(tempfile.mkdtemp(prefix="tweestap-bench-", dir="/tmp"))
    postgres: Postgres | None = None
    broker: Broker | None = None
    server: subprocess.Popen[bytes] | None = None
    try:
        log(f"starting PostgreSQL and the broker in {folder}")
        postgres = Postgres(folder / "pg")
        broker = Broker(free_port(), folder / "broker.log")
        broker.start()
        settings = NotifierSettings(
            zone="a",
            database_url=postgres.socket_dsn("notifier"),
            kafka_bootstrap=broker.bootstrap,
            sealing_keys=f"bench:{generate_key()}",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            rate_limit_count=1_000_000,
        )
        asyncio.run(ensure_database(settings.database_url))
        port = free_port()
        server_log = folder / "notifier.log"
        server = harness.start_server(
            "notifier",
            settings,
            port,
            server_log,
            {
                "TWEESTAP_SMTP_HOST": settings.smtp_host,
                "TWEESTAP_SMTP_PORT": str(settings.smtp_port),
                "TWEESTAP_RATE_LIMIT_COUNT": str(settings.rate_limit_count),
            },
        )
        harness.wait_ready("notifier", port, server, server_log)
        yield NotifierStack(
            folder,
            settings,
            server,
            server_log,
            port,
            postgres.server.get_pid(),
            broker.process.pid if broker.process else None,
        )
    finally:
        log("stopping")
        if server is not None:
            harness.stop_server(server)
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _log_problems(path: Path, offset: int) -> list[str]:
    """Lines logged after byte ``offset``. The server logs at WARNING: every line there is a
    failure or a retry."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line[:300] for line in text.splitlines() if "WARNING" in line or "ERROR" in line]


# --------------------------------------------------------------------------- events


def practice_event() -> Envelope:
    body = PracticeUpserted(
        name=PRACTICE_NAME, email=PRACTICE_EMAIL, version=1, updated_at=utcnow(), zone="a"
    )
    return Envelope(
        type="practice.upserted",
        source=SOURCE,
        practice=PRACTICE,
        subject=PRACTICE,
        data=body.model_dump(mode="json"),
    )


def request_event(keyring: Keyring, recipient: str, sent_at: float) -> Envelope:
    """A ``login_code`` e-mail request with a sealed 6-digit code, timed ``sent_at``."""
    rid = uuid.uuid4()
    code = f"{secrets.randbelow(1_000_000):06d}"
    body = NotifyRequest(
        channel="email",
        template="login_code",
        locale="nl",
        recipient=recipient,
        parameters=PARAMETERS,
        sealed={"code": keyring.seal(code.encode(), notify_aad(PRACTICE, rid, "code"))},
    )
    return Envelope(
        id=rid,
        type="notify.requested",
        source=SOURCE,
        time=datetime.fromtimestamp(sent_at, UTC),
        practice=PRACTICE,
        subject=recipient,
        data=body.model_dump(mode="json"),
    )


# --------------------------------------------------------------------------- the run


@dataclass
class Run:
    #: request id -> send time (time.time()), measured requests only
    sent: dict[str, float] = field(default_factory=dict)
    warmup_ids: set[str] = field(default_factory=set)
    produce_errors: list[str] = field(default_factory=list)
    #: the furthest the generator fell behind its schedule
    max_send_lag_ms: float = 0.0
    first_send: float = 0.0
    last_send: float = 0.0
    drained: bool = False
    rss_idle_mb: float = 0.0
    #: size of the server log when the load began (what the probes logged is not counted)
    log_offset: int = 0
    window_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)


async def _send(producer: AIOKafkaProducer, stack: NotifierStack, event: Envelope) -> Any:
    """Hand ``event`` to the producer; returns the future of the broker's acknowledgement."""
    topic = NOTIFY_REQUESTS if event.type == "notify.requested" else DIRECTORY_PRACTICES
    return await producer.send(
        stack.settings.topic(topic.name),
        event.model_dump_json().encode(),
        key=event.key.encode(),
    )


async def _wait_practice(producer: AIOKafkaProducer, stack: NotifierStack, sink: Sink) -> None:
    """Publish the practice, then send probe requests until one is delivered: that proves the
    practice (its sender address) arrived and the request consumer runs. A probe handled
    before the practice fails for want of a sender address, so it is sent again."""
    await (await _send(producer, stack, practice_event()))
    deadline = time.monotonic() + READY_TIMEOUT_S
    keyring = stack.keyring
    probe = 0
    while True:
        probe += 1
        event = request_event(keyring, f"probe{probe}@example.nl", time.time())
        await (await _send(producer, stack, event))
        rid = str(event.id)
        retry_at = time.monotonic() + PROBE_RETRY_S
        while time.monotonic() < retry_at:
            if any(request_id == rid for request_id, _ in sink.snapshot()):
                log(f"practice materialised (probe {probe} delivered)")
                return
            stack.ensure_alive()
            await asyncio.sleep(0.05)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no probe delivered:\n{harness.tail(stack.server_log)}")


def _delivered(sink: Sink, wanted: set[str]) -> int:
    return len({rid for rid, _ in sink.snapshot()} & wanted)


async def run_load(stack: NotifierStack, sink: Sink, args: argparse.Namespace) -> Run:
    run = Run()
    await ensure_topics(stack.settings, (DIRECTORY_PRACTICES, NOTIFY_REQUESTS))
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap)
    await producer.start()
    try:
        await _wait_practice(producer, stack, sink)
        await asyncio.sleep(1.0)  # let the probe's aftermath (results, outbox) settle
        run.rss_idle_mb = rss_mb(stack.server.pid)
        run.log_offset = stack.server_log.stat().st_size
        keyring = stack.keyring
        warm = round(args.warmup * args.rate)
        total = warm + round(args.seconds * args.rate)
        log(
            f"sending {total - warm} login_code requests at {args.rate:g}/s "
            f"(after {warm} warm-up requests)"
        )
        meter = stack.meter()
        metering: asyncio.Task[None] | None = None
        futures: list[Any] = []
        start = window_start = time.monotonic() + 0.05
        for i in range(total):
            due = start + i / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if i == warm:  # psutil walks PostgreSQL's processes: not on the send path
                metering = asyncio.create_task(asyncio.to_thread(meter.start))
                window_start = time.monotonic()
            run.max_send_lag_ms = max(run.max_send_lag_ms, (time.monotonic() - due) * 1000)
            sent_at = time.time()
            event = request_event(keyring, f"user{i}@example.nl", sent_at)
            futures.append(await _send(producer, stack, event))
            if i < warm:
                run.warmup_ids.add(str(event.id))
            else:
                run.sent[str(event.id)] = sent_at
                run.first_send = run.first_send or sent_at
                run.last_send = sent_at
        if metering is not None:
            await metering
        acks = await asyncio.gather(*futures, return_exceptions=True)
        run.produce_errors = [repr(a) for a in acks if isinstance(a, BaseException)][:5]
        wanted = set(run.sent) | run.warmup_ids
        drain_deadline = time.monotonic() + args.drain_timeout
        while _delivered(sink, wanted) < len(wanted) and time.monotonic() < drain_deadline:
            stack.ensure_alive()
            await asyncio.sleep(POLL_S)
        end = time.monotonic()
        run.cpu_s = meter.stop()
        run.window_s = round(end - window_start, 3)
        run.drained = _delivered(sink, wanted) == len(wanted)
        stack.ensure_alive()
    finally:
        await producer.stop()
    return run


def _summary(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": percentile(values, 100),
    }


async def _queue_state(dsn: str, ids: list[str]) -> dict[str, Any]:
    """What the notifier's own queue says about the measured requests: statuses, retries, and
    where the time went. For messages delivered at the first attempt ``next_attempt_at`` is
    still the time the consumer queued them, which splits the latency in two: request time to
    queued (broker and consumer) and queued to the commit of ``delivered`` (dispatcher, SMTP)."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT status, attempts, last_error, "
            "extract(epoch FROM delivered_at - requested_at) * 1000 AS total_ms, "
            "extract(epoch FROM next_attempt_at - requested_at) * 1000 AS queued_ms, "
            "extract(epoch FROM delivered_at - next_attempt_at) * 1000 AS dispatched_ms "
            "FROM messages WHERE request_id = ANY($1::uuid[])",
            ids,
        )
    finally:
        await conn.close()
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if r["last_error"]:
            errors[r["last_error"]] = errors.get(r["last_error"], 0) + 1
    first = [r for r in rows if r["status"] == "delivered" and r["attempts"] == 1]
    return {
        "statuses": statuses,
        "retried": sum(1 for r in rows if r["attempts"] > 1),
        "last_errors": errors,
        "recorded_latency_ms": _summary(
            [float(r["total_ms"]) for r in rows if r["total_ms"] is not None]
        ),
        "request_to_queued_ms": _summary([float(r["queued_ms"]) for r in first]),
        "queued_to_delivered_ms": _summary([float(r["dispatched_ms"]) for r in first]),
    }


# --------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tweestap bench notify", description=__doc__)
    p.add_argument("--rate", type=float, default=TARGET_RATE, help="requests per second")
    p.add_argument("--seconds", type=float, default=10.0, help="measured sending duration")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured sending before")
    p.add_argument(
        "--drain-timeout", type=float, default=60.0, help="wait for deliveries after sending"
    )
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if round(args.rate * args.seconds) < 1 or args.warmup < 0 or args.drain_timeout <= 0:
        parser().error("--rate x --seconds must be at least 1, --warmup not negative")
    with smtp_sink() as (sink, smtp_port), notifier_stack(smtp_port) as stack:
        run = asyncio.run(run_load(stack, sink, args))
        rss_after = rss_mb(stack.server.pid)
        queue = asyncio.run(_queue_state(stack.settings.database_url, list(run.sent)))
        problems = _log_problems(stack.server_log, run.log_offset)
        settings = stack.settings
        accepted = sink.snapshot()
    first_accept: dict[str, float] = {}
    copies: dict[str, int] = {}
    for rid, at in accepted:
        copies[rid] = copies.get(rid, 0) + 1
        first_accept.setdefault(rid, at)
    latencies = [
        (first_accept[rid] - sent) * 1000 for rid, sent in run.sent.items() if rid in first_accept
    ]
    delivered = len(latencies)
    requested = len(run.sent)
    last_accept = max((first_accept[rid] for rid in run.sent if rid in first_accept), default=0.0)
    span = last_accept - run.first_send
    send_span = run.last_send - run.first_send
    p99 = percentile(latencies, 99)
    goal = target(p99, TARGET_P99_MS, at_least=False)
    goal["rate"] = args.rate
    goal["all_delivered"] = delivered == requested and not run.produce_errors
    goal["met"] = bool(goal["met"]) and args.rate >= TARGET_RATE and goal["all_delivered"]
    goal["target"] = f"p99 <= {TARGET_P99_MS:g} ms at >= {TARGET_RATE:g} requests/s"
    harness.report(
        "notify",
        {
            "rate_per_s": args.rate,
            "seconds": args.seconds,
            "warmup_s": args.warmup,
            "drain_timeout_s": args.drain_timeout,
            "template": "login_code (nl), e-mail, one recipient per request",
            "server": "one notifier process; its settings are the defaults except the "
            "per-recipient rate limit",
            "notifier_settings": {
                "rate_limit_count": settings.rate_limit_count,
                "concurrency": settings.concurrency,
                "dispatch_sweep_seconds": settings.dispatch_sweep_seconds,
                "database_pool_max": settings.database_pool_max,
                "topic_partitions": settings.topics.partitions,
            },
            "smtp_sink": "aiosmtpd in the bench process (a real MTA answers faster)",
        },
        {
            "requested": requested,
            "delivered": delivered,
            "missing": requested - delivered,
            "duplicates": sum(n - 1 for rid, n in copies.items() if rid in run.sent and n > 1),
            "produce_errors": run.produce_errors,
            "sent_per_s": round((requested - 1) / send_span, 2) if send_span > 0 else None,
            "max_send_lag_ms": round(run.max_send_lag_ms, 2),
            "delivered_per_s": round(delivered / span, 2) if span > 0 else None,
            "latency_ms": _summary(latencies),
            "drained": run.drained,
            "last_delivery_after_last_send_s": round(last_accept - run.last_send, 3)
            if last_accept
            else None,
            "queue": queue,
            "server_log_problems": len(problems),
            "server_log_samples": problems[:5],
            "cpu_window_s": run.window_s,
            "cpu_s": run.cpu_s,
        },
        {"rss_idle_mb": run.rss_idle_mb, "rss_after_mb": rss_after},
        {"p99_latency_at_rate": goal},
        note=NOTE,
    )
    return 0
