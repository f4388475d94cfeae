"""End-state checks of a healed deployment: both zones end in the same state (issue 26,
invariants 3, 5 and 6), for ``tweestap chaos`` and the fault tests.

:func:`check_converged` waits (bounded) for the zones to converge and returns one
:class:`Check` per promise, each with its violations (none: it holds) and its figures:

``replicated-tables-identical``
    Every table that replicates between the zones (:data:`REPLICATED`) has the same digest in
    both zones' databases of each service: a SHA-256 over the rows in key order, each row the
    MD5 of its replicated columns as jsonb (columns that are per zone by design, such as the
    time this zone recorded a row, are left out: :attr:`Table.local`). A violation names the
    table and a few keys whose rows differ or are missing on one side. Tables that are per zone
    by design are listed in :data:`PER_ZONE` with the reason; a table in neither list is a
    violation too (a new table must be classified here, or the check would silently skip it).
``audit-exactly-once``
    Enrolment keeps the audit trail of both zones in each zone (ADR 0009): each event id is
    there once, the two zones hold the same ids, and every genuine (tagged) auditable event
    still on the audited topics (its type mapped to a record by
    :func:`services.enrolment.domain.audit.to_record`) is in each zone's store. The topics are
    read before the stores, and on from where the previous evaluation stopped.
``no-genuine-dead-letters``
    No database holds a dead letter of a genuine event: one whose record carried a valid
    ``tweestap-tag`` (DESIGN §9, :mod:`shared.bus_tags`; forged and untagged records may be
    dead-lettered, that is what the tag is for). ``dead_letters`` keeps the record's value but
    not its key and headers, so the record is read back from the broker at its topic,
    partition and offset; when the broker still has it with the stored value, its tag is
    opened under the deployment's keyring. When it does not (retention, compaction), the
    reason decides: every reason counts as genuine but the refusals of authenticity and bounds
    (:func:`refused_as_foreign`). ``detail`` counts each way of judging.
``outbox-drained``
    No ``outbox`` row older than ``outbox_bound_seconds``, and no ``outbox_dead`` row (an
    event the broker refused for good never reaches the other zone).
``every-process-serving``
    Every service of every zone answers 200 on ``/readyz`` with status ``ready`` (not
    ``degraded``).
``no-consumer-stuck``
    No consumer reports ``tweestap_catching_up`` 1 or a ``tweestap_consumer_lag`` above 0 on
    ``/metrics``. ``detail`` lists per process the topics it has been assigned since it
    started (those with a lag gauge): a consumer of a work topic (one group across the zones)
    that is catching up without its topic there has no partition to read to the end.

Every check is re-evaluated until all hold or ``settle_seconds`` have passed (replication is
asynchronous; a healed process needs a moment to catch up); ``detail["waited_seconds"]`` says
how long it took.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from services.enrolment.domain.audit import AUDITED_TYPES, Event, to_record
from services.enrolment.use_cases.audit import AUDITED_TOPICS
from shared.bus_tags import BusTags
from shared.events import Envelope
from shared.partition_ends import partition_offsets
from shared.sealing import Keyring

if TYPE_CHECKING:
    from services.dev.deployment import Deployment

__all__ = [
    "PER_ZONE",
    "REPLICATED",
    "Check",
    "Table",
    "check_converged",
    "compare_rows",
    "digest",
    "lag_topics",
    "refused_as_foreign",
    "stuck_consumers",
]

T = TypeVar("T")
#: How long a read of the broker may take (a dead letter's record) before it is given up.
BROKER_SECONDS = 10.0
#: How many differing keys a violation names.
SHOWN_KEYS = 5


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "replicated-tables-identical"
    violations: list[str]  # empty: holds
    detail: dict[str, Any]  # counts, digests, waited seconds


@dataclass(frozen=True)
class Table:
    """A table that replicates: its key columns, the columns that are per zone by design
    (left out of the digest) and the rows that count (an SQL condition, or None: all)."""

    name: str
    key: tuple[str, ...]
    local: tuple[str, ...] = ()
    where: str | None = None


def _t(name: str, *key: str, local: Iterable[str] = (), where: str | None = None) -> Table:
    return Table(name, key, tuple(local), where)


#: Practices and employees (shared/replicas/directory.py): merged field by field, the stamp
#: (version, updated_at, zone) is the writer's, so every column agrees once merged.
_DIRECTORY = (_t("practices", "id"), _t("employees", "practice", "id"))
#: The replicated parts (shared/replicas): keys, revocations and session cutoffs.
_KEYS_REVOCATIONS = (
    _t("public_keys", "kid"),
    _t("revocations", "sid"),
    _t("session_cutoffs", "practice", "employee"),
)

#: Per service, the tables that replicate between the zones.
REPLICATED: dict[str, tuple[Table, ...]] = {
    "auth": (
        *_DIRECTORY,
        *_KEYS_REVOCATIONS,
        _t("credentials", "practice", "employee"),
        _t("factors", "practice", "id"),
        _t("certificates", "practice", "nr"),
        _t("clients", "id"),
        _t("totp_steps", "practice", "employee", "factor", "step"),
        # A guess reserves its row, pending, before argon2 runs and its verdict settles or
        # deletes it; only settled failures are announced (login.failed). A process killed
        # mid-verify leaves its pending row, which still counts in that zone by design
        # (DESIGN §5: a crash is no free guess), so only settled rows are compared.
        _t("login_failures", "event_id", local=("pending",), where="NOT pending"),
        _t("login_resets", "practice", "username"),
        _t("last_logins", "practice", "employee"),
        _t("fallback_uses", "id"),
        _t("sessions", "sid"),
        _t("oidc_spent_codes", "code_id"),
        # When this zone asked the client for a back-channel logout is this zone's own.
        _t("oidc_grants", "sid", local=("logout_requested_at",)),
    ),
    "enrolment": (
        *_DIRECTORY,
        *_KEYS_REVOCATIONS,
        _t("factors", "practice", "id"),
        _t("identity_failures", "event_id"),
        _t("enrolment_blocks", "event_id"),
        _t("identity_resets", "practice", "employee"),
        # recorded_at: when this zone's consumer stored the event (the event's own is `time`).
        _t("audit_events", "event_id", local=("recorded_at",)),
    ),
    "certs": (
        *_DIRECTORY,
        *_KEYS_REVOCATIONS,
        # The private key stays in the zone that imported it (never on the bus).
        _t("certificates", "practice", "nr", local=("sealed_key",)),
    ),
    "notifier": (_t("practices", "id"),),
}

#: Tables every service has that are per zone by design (shared/migrations): the outbox and
#: its dead rows (what this zone has still to send), the inbox and the consumed marks (what
#: this zone's consumers applied), dead letters (what they set aside), and bookkeeping.
_INFRASTRUCTURE = {
    "outbox": "events this zone has still to publish",
    "outbox_dead": "events this zone's broker refused for good",
    "inbox": "event ids this zone's consumers applied",
    "consumed": "this zone's consumers that have committed offsets",
    "dead_letters": "records this zone's consumers set aside",
    "append_only_tables": "grants of this database",
    "schema_migrations": "migrations applied to this database",
}

#: Per service, the tables that are per zone by design, and why.
PER_ZONE: dict[str, dict[str, str]] = {
    "auth": {
        **_INFRASTRUCTURE,
        "logins": "a login finishes in the zone that began it",
        "signing_keys": "each zone signs with its own keys (private parts; ADR 0005)",
        "login_codes": "a login's SMS/e-mail code, like its login",
        "fallback_challenges": "a login's certificate nonce, like its login",
        "passkey_challenges": "a login's passkey challenge, like its login",
        "passkey_counters": "each zone's highest accepted signature counter (not replicated)",
        "card_challenges": "a card login's nonce, like its login",
        "card_statements": "the front door's statements this zone has used",
    },
    "enrolment": {
        **_INFRASTRUCTURE,
        "enrolments": "a wizard finishes in the zone that started it",
        "pending_factors": "an SMS/e-mail factor is confirmed where it was added",
        "passkey_registrations": "a registration finishes where its options were made",
    },
    "certs": {
        **_INFRASTRUCTURE,
        "expiry_notices": "the notices this zone queued (their ids are deterministic)",
    },
    "notifier": {
        **_INFRASTRUCTURE,
        "messages": "notify.requests is work read once across both zones: each in one zone",
    },
}


# -- pure parts --------------------------------------------------------------------------------


def digest(rows: Mapping[str, str]) -> str:
    """SHA-256 over ``rows`` (key → row hash) in key order: equal for equal tables."""
    h = hashlib.sha256()
    for key in sorted(rows):
        h.update(key.encode())
        h.update(b"\0")
        h.update(rows[key].encode())
        h.update(b"\n")
    return h.hexdigest()


def compare_rows(a: Mapping[str, str], b: Mapping[str, str], limit: int = SHOWN_KEYS) -> list[str]:
    """The first ``limit`` keys (in key order) whose rows differ between ``a`` and ``b``,
    each described: ``key (only in a)``, ``key (only in b)`` or ``key (differs)``."""
    found: list[str] = []
    for key in sorted(a.keys() | b.keys()):
        if key not in b:
            found.append(f"{key} (only in a)")
        elif key not in a:
            found.append(f"{key} (only in b)")
        elif a[key] != b[key]:
            found.append(f"{key} (differs)")
        else:
            continue
        if len(found) >= limit:
            break
    return found


#: Reasons shared/consumer.py gives only to records that are not Tweestap's own or that
#: break the bounds: a genuine event never gets them.
_FOREIGN_REASONS = (
    "no valid tweestap-tag",
    "not an event envelope",
    "s in the future (at most",
)


def refused_as_foreign(reason: str) -> bool:
    """Whether a dead letter's reason is a refusal of authenticity or bounds."""
    return any(part in reason for part in _FOREIGN_REASONS)


def stuck_consumers(metrics_text: str) -> list[str]:
    """The consumers a ``/metrics`` exposition reports catching up or lagging, sorted."""
    stuck: list[str] = []
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.value <= 0:
                continue
            if sample.name == "tweestap_catching_up":
                stuck.append(f"consumer {sample.labels.get('consumer', '?')} catching up")
            elif sample.name == "tweestap_consumer_lag":
                topic = sample.labels.get("topic", "?")
                stuck.append(f"lag {sample.value:.0f} on {topic}")
    return sorted(stuck)


def lag_topics(metrics_text: str) -> list[str]:
    """The topics a ``/metrics`` exposition has a ``tweestap_consumer_lag`` gauge of, sorted."""
    return sorted(
        {
            sample.labels.get("topic", "?")
            for family in text_string_to_metric_families(metrics_text)
            for sample in family.samples
            if sample.name == "tweestap_consumer_lag"
        }
    )


# -- reading the deployment -------------------------------------------------------------------


async def _connect(dsn: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn, timeout=5, server_settings={"TimeZone": "UTC"}
    )
    return conn


async def _with_conn(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    conn = await _connect(dsn)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def _table_rows(conn: asyncpg.Connection, table: Table) -> dict[str, str]:
    """Key (a JSON array) → MD5 of the row's replicated columns as jsonb (keys sorted, times
    in UTC: the same text for the same values in either zone)."""
    keys = ", ".join(table.key)
    where = f" WHERE {table.where}" if table.where else ""
    rows = await conn.fetch(
        f"SELECT jsonb_build_array({keys})::text AS k, "  # noqa: S608 - names are this module's
        f"md5((to_jsonb(t) - $1::text[])::text) AS h FROM {table.name} t{where}",
        list(table.local),
    )
    return {r["k"]: r["h"] for r in rows}


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


@dataclass
class _Snapshot:
    """One zone's database of one service: each replicated table's rows, and its tables."""

    tables: set[str] = field(default_factory=set)
    rows: dict[str, dict[str, str]] = field(default_factory=dict)


async def _snapshot(dsn: str, tables: tuple[Table, ...]) -> _Snapshot:
    async def read(conn: asyncpg.Connection) -> _Snapshot:
        snap = _Snapshot(await _tables(conn))
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for table in tables:
                if table.name in snap.tables:
                    snap.rows[table.name] = await _table_rows(conn, table)
        return snap

    return await _with_conn(dsn, read)


async def _replicated_tables(deployment: Deployment) -> Check:
    violations: list[str] = []
    detail: dict[str, Any] = {}
    zones = deployment.zones
    for service in deployment.services:
        specs = REPLICATED.get(service, ())
        snaps = [await _snapshot(deployment.dsn(service, z), specs) for z in zones]
        known = {t.name for t in specs} | PER_ZONE.get(service, {}).keys()
        for zone, snap in zip(zones, snaps, strict=True):
            for name in sorted(snap.tables - known):
                violations.append(
                    f"{service}-{zone}: table {name} is neither replicated nor per zone "
                    "(classify it in services/dev/convergence.py)"
                )
        for table in specs:
            present = [s.rows.get(table.name) for s in snaps]
            if any(rows is None for rows in present):
                violations.append(f"{service}.{table.name}: missing in a zone")
                continue
            tables = [rows for rows in present if rows is not None]
            digests = [digest(rows) for rows in tables]
            detail[f"{service}.{table.name}"] = {
                "rows": [len(rows) for rows in tables],
                "digest": digests[0][:16],
            }
            for other, zone in zip(tables[1:], zones[1:], strict=True):
                if digest(other) != digests[0]:
                    keys = compare_rows(tables[0], other)
                    violations.append(
                        f"{service}.{table.name}: {zones[0]} and {zone} differ: " + ", ".join(keys)
                    )
    return Check("replicated-tables-identical", violations, detail)


@dataclass
class _AuditedOnBus:
    """The genuine auditable events on the bus, read on from where the last evaluation of
    one :func:`check_converged` stopped: event id → its topic."""

    positions: dict[TopicPartition, int] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)

    async def read(self, bootstrap: str, tags: BusTags, prefix: str) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        await asyncio.wait_for(consumer.start(), BROKER_SECONDS)
        try:
            await consumer.topics()  # the metadata, for partitions_for_topic
            partitions = [
                TopicPartition(f"{prefix}{topic.name}", p)
                for topic in AUDITED_TOPICS
                for p in sorted(consumer.partitions_for_topic(f"{prefix}{topic.name}") or ())
            ]
            if not partitions:
                return
            held = await partition_offsets(consumer, partitions)
            ends = {tp: offsets.stop for tp, offsets in held.items()}
            for tp in partitions:
                consumer.seek(tp, max(self.positions.get(tp, 0), held[tp].start))
            deadline = time.monotonic() + BROKER_SECONDS * 6
            while time.monotonic() < deadline:
                behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
                if not behind:
                    break
                batches = await consumer.getmany(*behind, timeout_ms=500, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            self._note(tp.topic, record, tags)
            else:
                raise TimeoutError("the audited topics were not read to their end in time")
            self.positions.update(ends)
        finally:
            await consumer.stop()

    def _note(self, topic: str, record: Any, tags: BusTags) -> None:
        """Keep ``record``'s id if enrolment's audit consumer must record it: Tweestap's own
        (tagged), an envelope, of an audited type, mapped to a record."""
        value = record.value or b""
        if not tags.valid(topic, record.key, value, record.headers):
            return
        try:
            event = Envelope.model_validate_json(value)
        except ValueError:
            return
        if event.type not in AUDITED_TYPES:
            return
        try:
            mapped = to_record(
                Event(
                    event.id,
                    event.type,
                    event.source,
                    event.time,
                    event.practice,
                    event.subject,
                    event.data,
                    True,
                )
            )
        except Exception:  # the consumer dead-letters it: the dead letters check sees it
            return
        if mapped is not None:
            self.events[str(event.id)] = topic


async def _audit(deployment: Deployment, on_bus: _AuditedOnBus) -> Check:
    """ADR 0009: enrolment keeps the audit trail, both zones' events in each zone; every
    genuine auditable event on the bus is there (the topics are read before the stores, so
    what the bus had is due in the stores)."""
    violations: list[str] = []
    ids: dict[str, set[str]] = {}
    if "enrolment" not in deployment.services:
        return Check("audit-exactly-once", [], {"skipped": "no enrolment"})
    await on_bus.read(
        deployment.broker_bootstrap,
        BusTags(Keyring.parse(deployment.sealing_keys)),
        deployment.env.get("TWEESTAP_TOPIC_PREFIX", ""),
    )
    detail: dict[str, Any] = {"on_bus": len(on_bus.events)}
    for zone in deployment.zones:

        async def read(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await conn.fetch(
                "SELECT event_id::text AS id, count(*) AS n FROM audit_events GROUP BY event_id"
            )
            return rows

        rows = await _with_conn(deployment.dsn("enrolment", zone), read)
        twice = [r["id"] for r in rows if r["n"] != 1]
        if twice:
            violations.append(f"enrolment-{zone}: {len(twice)} events more than once: {twice[:5]}")
        ids[zone] = {r["id"] for r in rows}
        detail[f"events_{zone}"] = len(rows)
        lost = sorted(on_bus.events.keys() - ids[zone])
        if lost:
            violations.append(
                f"{len(lost)} auditable events on the bus missing in enrolment-{zone}: "
                + ", ".join(f"{i} ({on_bus.events[i]})" for i in lost[:SHOWN_KEYS])
            )
    first, *others = deployment.zones
    for zone in others:
        for a, b in ((first, zone), (zone, first)):
            missing = sorted(ids[a] - ids[b])
            if missing:
                violations.append(
                    f"{len(missing)} audit events of enrolment-{a} missing in enrolment-{b}: "
                    + ", ".join(missing[:SHOWN_KEYS])
                )
    return Check("audit-exactly-once", violations, detail)


#: Where a record is on the bus: topic, partition, offset.
Place = tuple[str, int, int]


@dataclass(frozen=True)
class _Stored:
    """A record as the broker still has it: what its tag covers, and its headers."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


async def _records(bootstrap: str, places: Iterable[Place]) -> dict[Place, _Stored]:
    """The records at ``places`` the broker still has (retention and compaction drop some)."""
    found: dict[Place, _Stored] = {}
    wanted = sorted(set(places))
    if not wanted:
        return found
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await asyncio.wait_for(consumer.start(), BROKER_SECONDS)
    try:
        held = await partition_offsets(
            consumer, sorted({TopicPartition(topic, partition) for topic, partition, _ in wanted})
        )
        for topic, partition, offset in wanted:
            tp = TopicPartition(topic, partition)
            if offset not in held[tp]:
                continue
            consumer.seek(tp, offset)
            batch = await consumer.getmany(tp, timeout_ms=int(BROKER_SECONDS * 1000), max_records=1)
            for record in batch.get(tp, []):
                if record.offset == offset and record.value is not None:
                    headers = tuple((k, bytes(v)) for k, v in record.headers)
                    found[(topic, partition, offset)] = _Stored(record.key, record.value, headers)
    finally:
        await consumer.stop()
    return found


async def _dead_letters(deployment: Deployment, looked_up: dict[Place, _Stored | None]) -> Check:
    """A dead letter is genuine when the broker still has its record (the same value as
    stored) and the record's ``tweestap-tag`` opens under the deployment's keyring; when the
    broker no longer has it, by its reason (:func:`refused_as_foreign`). ``looked_up``: the
    records read before (None: not on the broker), kept between evaluations."""
    letters: list[tuple[str, asyncpg.Record]] = []
    for zone in deployment.zones:
        for service in deployment.services:

            async def read(conn: asyncpg.Connection) -> list[asyncpg.Record]:
                rows: list[asyncpg.Record] = await conn.fetch(
                    'SELECT consumer, topic, partition, "offset", reason, raw FROM dead_letters '
                    "ORDER BY id"
                )
                return rows

            rows = await _with_conn(deployment.dsn(service, zone), read)
            letters.extend((f"{service}-{zone}", r) for r in rows)
    detail: dict[str, Any] = {"tagged": 0, "untagged": 0, "by_reason": 0, "foreign_reason": 0}
    places = {(r["topic"], r["partition"], r["offset"]) for _, r in letters}
    unread = places - looked_up.keys()
    if unread:
        try:
            found = await _records(deployment.broker_bootstrap, unread)
            looked_up.update({place: found.get(place) for place in unread})
        except (KafkaError, OSError, TimeoutError) as exc:
            detail["broker"] = f"not read ({type(exc).__name__}): judged by reason"
    tags = BusTags(Keyring.parse(deployment.sealing_keys))
    violations: list[str] = []
    for where, r in letters:
        record = looked_up.get((r["topic"], r["partition"], r["offset"]))
        if record is not None and r["raw"] is not None and record.value == bytes(r["raw"]):
            genuine = tags.valid(r["topic"], record.key, record.value, record.headers)
            detail["tagged" if genuine else "untagged"] += 1
        else:
            genuine = not refused_as_foreign(r["reason"])
            detail["by_reason" if genuine else "foreign_reason"] += 1
        if genuine:
            violations.append(
                f"{where}: {r['consumer']} dead-lettered "
                f"{r['topic']}:{r['partition']}:{r['offset']}: {r['reason'][:200]}"
            )
    return Check("no-genuine-dead-letters", violations, detail)


async def _outbox(deployment: Deployment, bound: float) -> Check:
    violations: list[str] = []
    detail: dict[str, Any] = {}
    for zone in deployment.zones:
        for service in deployment.services:

            async def read(conn: asyncpg.Connection) -> asyncpg.Record | None:
                row: asyncpg.Record | None = await conn.fetchrow(
                    "SELECT (SELECT count(*) FROM outbox) AS pending, "
                    "(SELECT count(*) FROM outbox WHERE created_at < now() - make_interval("
                    "secs => $1)) AS old, "
                    "(SELECT extract(epoch FROM now() - min(created_at)) FROM outbox) AS age, "
                    "(SELECT count(*) FROM outbox_dead) AS dead",
                    bound,
                )
                return row

            row = await _with_conn(deployment.dsn(service, zone), read)
            assert row is not None
            name = f"{service}-{zone}"
            detail[name] = {"pending": row["pending"], "dead": row["dead"]}
            if row["old"]:
                violations.append(
                    f"{name}: {row['old']} outbox rows older than {bound:g} s "
                    f"(oldest {float(row['age']):.0f} s)"
                )
            if row["dead"]:
                violations.append(f"{name}: {row['dead']} rows in outbox_dead")
    return Check("outbox-drained", violations, detail)


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"


async def _every_process(
    deployment: Deployment, session: aiohttp.ClientSession, path: str
) -> AsyncIterator[tuple[str, int, str]]:
    """Each process's answer to ``GET`` of its ops ``path``: its name, the status (0 when it
    did not answer) and the body."""
    for zone in deployment.zones:
        for service in deployment.services:
            status, body = await _get(session, f"{deployment.ops_url(service, zone)}{path}")
            yield f"{service}-{zone}", status, body


def _status(body: str) -> str | None:
    """The ``status`` of a ``/readyz`` answer (``ready``, ``degraded``)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    status = answer.get("status") if isinstance(answer, dict) else None
    return status if isinstance(status, str) else None


async def _serving(deployment: Deployment, session: aiohttp.ClientSession) -> Check:
    violations: list[str] = []
    detail: dict[str, Any] = {}
    async for name, status, body in _every_process(deployment, session, "/readyz"):
        detail[name] = status
        if status != 200:
            violations.append(f"{name}: /readyz {status or 'unreachable'}: {body[:200]}")
        elif _status(body) != "ready":
            violations.append(f"{name}: /readyz {body[:200]}")
    return Check("every-process-serving", violations, detail)


async def _consumers(deployment: Deployment, session: aiohttp.ClientSession) -> Check:
    violations: list[str] = []
    detail: dict[str, Any] = {}
    async for name, status, body in _every_process(deployment, session, "/metrics"):
        if status != 200:
            violations.append(f"{name}: /metrics {status or 'unreachable'}")
            continue
        stuck = stuck_consumers(body)
        # The topics it has been assigned since it started (a lag gauge exists): a consumer
        # catching up without its topic here has no partition to read to the end.
        detail[name] = {"stuck": len(stuck), "assigned": lag_topics(body)}
        violations.extend(f"{name}: {what}" for what in stuck)
    return Check("no-consumer-stuck", violations, detail)


@dataclass
class _Progress:
    """What one :func:`check_converged` has read of the bus, so its next evaluation reads
    only what is new."""

    audited: _AuditedOnBus = field(default_factory=_AuditedOnBus)
    looked_up: dict[Place, _Stored | None] = field(default_factory=dict)


async def _all_checks(
    deployment: Deployment, outbox_bound_seconds: float, progress: _Progress
) -> list[Check]:
    async with aiohttp.ClientSession() as session:
        return [
            await _safely("replicated-tables-identical", _replicated_tables(deployment)),
            await _safely("audit-exactly-once", _audit(deployment, progress.audited)),
            await _safely("no-genuine-dead-letters", _dead_letters(deployment, progress.looked_up)),
            await _safely("outbox-drained", _outbox(deployment, outbox_bound_seconds)),
            await _safely("every-process-serving", _serving(deployment, session)),
            await _safely("no-consumer-stuck", _consumers(deployment, session)),
        ]


async def _safely(name: str, check: Awaitable[Check]) -> Check:
    """The check; a database it cannot read is its violation, not an exception."""
    try:
        return await check
    except (
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        KafkaError,
        TimeoutError,
    ) as exc:
        return Check(name, [f"could not read the deployment: {type(exc).__name__}: {exc}"], {})


async def check_converged(
    deployment: Deployment, *, settle_seconds: float = 60.0, outbox_bound_seconds: float = 30.0
) -> list[Check]:
    """Every end-state check of the module docstring, re-evaluated until all hold or
    ``settle_seconds`` have passed; the last evaluation is returned. A database or process
    that cannot be reached is a violation of the check that reads it, not an exception."""
    started = time.monotonic()
    progress = _Progress()
    while True:
        checks = await _all_checks(deployment, outbox_bound_seconds, progress)
        waited = time.monotonic() - started
        if all(not c.violations for c in checks) or waited >= settle_seconds:
            break
        await asyncio.sleep(min(1.0, max(0.0, settle_seconds - waited)))
    return [
        Check(c.name, c.violations, {**c.detail, "waited_seconds": round(waited, 1)})
        for c in checks
    ]
