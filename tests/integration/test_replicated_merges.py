"""Every replicated merge, against real PostgreSQL through the real apply functions: any order
and any duplication of the same events gives the same state in two zones.

Per example: a list of events (hypothesis), applied to two fresh zone databases (the real
migrations of auth, enrolment and certs), each in its own random order with random duplicates
(the inbox is bypassed on purpose: the merge itself must be idempotent). Then the two zones'
tables are compared, ``stamps`` included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.auth import clients as auth_clients
from services.auth import consumers as auth_consumers
from services.auth.adapters import clients as client_rows
from services.auth.adapters import fallbacks, totp_steps
from services.auth.adapters import repository as auth_repo
from services.auth.domain.clients import CLIENT_EVENT, ClientState
from services.certs import consumers as certs_consumers
from services.certs.adapters import directory as certs_directory
from services.dev.infra import Postgres
from services.enrolment import consumers as enrolment_consumers
from services.enrolment.adapters import repository as enrolment_repo
from services.registry import SERVICES
from shared import replicas
from shared.db import create_pool, ensure_database, migrate
from shared.directory_trust import DirectoryTrust
from shared.events import (
    CertificateUpserted,
    EmployeeUpserted,
    Envelope,
    FactorCredential,
    FieldStamp,
    PasswordCredential,
    PasswordPolicy,
    PracticeUpserted,
    SessionRevoked,
    SessionsRevoked,
    Versioned,
)
from shared.merge import Stamp
from shared.replicas.directory import Directory
from shared.topics import DIRECTORY_EMPLOYEES, DIRECTORY_PRACTICES
from tests.support.cluster import KEYRING

P = "fysio"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
#: Host systems may make administrators here: the trust check is not what is tested.
TRUST = DirectoryTrust(KEYRING, host_admins=True)
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Apply = Callable[[asyncpg.Connection, Any], Awaitable[object]]


@dataclass
class Zones:
    """Two zone databases per service."""

    pools: dict[str, tuple[asyncpg.Pool, asyncpg.Pool]]


@pytest.fixture(scope="module")
async def zones(postgres: Postgres) -> AsyncIterator[Zones]:
    pools: dict[str, tuple[asyncpg.Pool, asyncpg.Pool]] = {}
    for service in ("auth", "enrolment", "certs"):
        pair = []
        for zone in ("x", "y"):
            dsn = postgres.socket_dsn(f"merges_{service}_{zone}")
            await ensure_database(dsn)
            await migrate(dsn, service, SERVICES[service].migrations)
            pair.append(await create_pool(dsn, 1, 2))
        pools[service] = (pair[0], pair[1])
    yield Zones(pools)
    for x, y in pools.values():
        await x.close()
        await y.close()


# -- events -----------------------------------------------------------------------------------

times = st.integers(0, 3).map(lambda s: T0 + timedelta(seconds=s))
stamps = st.builds(Stamp, st.integers(1, 3), times, st.sampled_from(["a", "b"]))


@st.composite
def versioned(
    draw: st.DrawFn,
    cls: type[Versioned],
    fixed: dict[str, st.SearchStrategy[Any]],
    fields: dict[str, st.SearchStrategy[Any]],
    elements: Sequence[str] = (),
) -> Versioned:
    """An entity event with random values, a random record stamp and, sometimes, older
    stamps for some fields or ``elements`` (``grants:e1``: as a per-field writer makes them)."""
    own = draw(st.dictionaries(st.sampled_from(sorted([*fields, *elements])), stamps, max_size=3))
    stamp = max([draw(stamps), *own.values()])
    return cls(
        **{name: draw(s) for name, s in fixed.items()},
        **{name: draw(s) for name, s in fields.items()},
        version=stamp.version,
        updated_at=stamp.updated_at,
        zone=stamp.zone,
        stamps={f: FieldStamp(**s._asdict()) for f, s in own.items()} or None,
    )


def envelope(type_: str, subject: str, data: dict[str, Any], zone: str = "a") -> Envelope:
    return Envelope(type=type_, source=f"test@{zone}", practice=P, subject=subject, data=data)


practices = versioned(
    PracticeUpserted,
    {},
    {
        "name": st.sampled_from(["Fysio", "Fysio & Co"]),
        "email": st.sampled_from([None, "p@fysio.example"]),
        "two_factor_required": st.booleans(),
        "password_policy": st.builds(
            PasswordPolicy,
            min_strength=st.sampled_from([50, 60]),
            max_attempts=st.sampled_from([3, 5]),
        ),
    },
    ["password_policy.min_strength", "password_policy.max_attempts"],
)
EMPLOYEE_IDS = ["e1", "e2"]


def employees(bsn: bool = False) -> st.SearchStrategy[Versioned]:
    """Employees e1 and e2, each with usernames of its own (no unique conflicts)."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "name": st.sampled_from(["Piet", "Piet de Vries"]),
        "email": st.sampled_from([None, "piet@fysio.example", "p@fysio.example"]),
        "rights_group": st.integers(1, 3),
        "in_service": st.booleans(),
    }
    if bsn:
        fields |= {
            "phone": st.sampled_from([None, "+31612345678"]),
            "bsn_hash": st.sampled_from([None, "a" * 64, "b" * 64]),
        }
    return st.sampled_from(EMPLOYEE_IDS).flatmap(
        lambda e: versioned(
            EmployeeUpserted,
            {"employee": st.just(e), "username": st.sampled_from([f"{e}-a", f"{e}-b"])},
            fields,
        )
    )


credentials = versioned(
    PasswordCredential,
    {"employee": st.sampled_from(EMPLOYEE_IDS)},
    {
        "sealed": st.sampled_from(["s1", "s2", "s3"]),
        "changed_at": times,
        "must_change": st.booleans(),
        "strength": st.integers(40, 80),
    },
)
factors = versioned(
    FactorCredential,
    {"factor": st.sampled_from(["f1", "f2"])},
    {
        "employee": st.just("e1"),
        "kind": st.just("totp"),
        "sealed": st.sampled_from(["s1", "s2"]),
        "active": st.booleans(),
        "created_at": times,
        "confirmed_step": st.sampled_from([None, 100, 101]),
    },
)
certificates = versioned(
    CertificateUpserted,
    {"nr": st.sampled_from(["c1", "c2"])},
    {
        "fingerprint": st.just("f" * 64),
        "certificate_pem": st.sampled_from(["PEM-RSA", "PEM-DSA"]),
        "subject": st.just("CN=Piet"),
        "issuer": st.just("CN=UZI"),
        "serial_number": st.just("1"),
        "not_before": st.just(T0),
        "not_after": st.just(T0 + timedelta(days=365)),
        "kind": st.just("uzi"),
        "type": st.sampled_from(["personal", "public"]),
        "services": st.lists(st.sampled_from(["lsp", "vecozo"]), unique=True),
        "grants": st.lists(st.sampled_from(EMPLOYEE_IDS), unique=True),
        "removed": st.booleans(),
    },
    [f"grants:{e}" for e in EMPLOYEE_IDS],
)


@st.composite
def orders(draw: st.DrawFn, events: Sequence[Any]) -> list[Any]:
    """The events in a random order, with random duplicates anywhere."""
    shuffled = draw(st.permutations(events))
    extra = draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    result = list(shuffled)
    for event in extra:
        result.insert(draw(st.integers(0, len(result))), event)
    return result


# -- the check --------------------------------------------------------------------------------


async def converge(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
    tables: dict[str, str],
    apply: Apply,
    events: list[Any],
    data: st.DataObject,
) -> list[list[dict[str, Any]]]:
    """Apply ``events`` to both zones in orders of their own; ``tables``: name → the query
    of its state. Returns zone x's states (for extra checks)."""
    states = []
    for pool in pools:
        async with pool.acquire() as conn:
            for table in tables:
                await conn.execute(f"DELETE FROM {table}")  # noqa: S608
            for event in data.draw(orders(events)):
                async with conn.transaction():
                    await apply(conn, event)
            states.append([[dict(r) for r in await conn.fetch(q)] for q in tables.values()])
    x, y = states
    assert x == y
    return x


def everything(*names: str) -> dict[str, str]:
    """Whole tables, rows in a fixed order."""
    return {name: f"SELECT * FROM {name} t ORDER BY t::text" for name in names}  # noqa: S608


# -- entities (last writer wins per field) ----------------------------------------------------


@EXAMPLES
@given(st.lists(practices, min_size=1, max_size=6), st.data())
async def test_practices(zones: Zones, events: list[Any], data: st.DataObject) -> None:
    for service, handler in (
        ("auth", auth_repo.DIRECTORY.handlers(TRUST)[DIRECTORY_PRACTICES]),
        ("enrolment", enrolment_repo.DIRECTORY.handlers(TRUST)[DIRECTORY_PRACTICES]),
        ("certs", certs_directory.DIRECTORY.handlers(TRUST)[DIRECTORY_PRACTICES]),
    ):

        async def apply(conn: asyncpg.Connection, ev: Versioned, handler: Any = handler) -> None:
            await handler(conn, envelope("practice.upserted", P, ev.model_dump(mode="json")))

        await converge(zones.pools[service], everything("practices"), apply, events, data)


def _employee_applier(directory: Directory) -> Apply:
    handler = directory.handlers(TRUST)[DIRECTORY_EMPLOYEES]

    async def apply(conn: asyncpg.Connection, ev: EmployeeUpserted) -> None:
        body = ev.model_dump(mode="json")
        await handler(conn, envelope("employee.upserted", ev.employee, body))

    return apply


@EXAMPLES
@given(st.lists(employees(), min_size=1, max_size=6), st.data())
async def test_employees_and_out_of_service_cutoffs(
    zones: Zones, events: list[Any], data: st.DataObject
) -> None:
    for service, handler in (
        ("auth", auth_repo.DIRECTORY),
        ("certs", certs_directory.DIRECTORY),
    ):
        tables = everything("employees")
        if service == "auth":
            tables |= everything("session_cutoffs")
        states = await converge(
            zones.pools[service], tables, _employee_applier(handler), events, data
        )
        if service == "auth":
            for row in states[1]:
                # Sessions end as of when ``in_service: false`` was written.
                assert row["before"] == max(
                    e.field_stamps().get("in_service", e.stamp).updated_at
                    for e in events
                    if e.employee == row["employee"] and not e.in_service
                )


@EXAMPLES
@given(st.lists(employees(bsn=True), min_size=1, max_size=6), st.data())
async def test_enrolment_employees_keep_a_bsn_hash(
    zones: Zones, events: list[Any], data: st.DataObject
) -> None:
    apply = _employee_applier(enrolment_repo.DIRECTORY)
    (rows,) = await converge(zones.pools["enrolment"], everything("employees"), apply, events, data)
    for row in rows:
        known = {e.bsn_hash for e in events if e.employee == row["id"]} - {None}
        assert (row["bsn_hash"] is None) == (not known), "a hash, once known, stays"


@EXAMPLES
@given(st.lists(credentials, min_size=1, max_size=6), st.data())
async def test_credentials(zones: Zones, events: list[Any], data: st.DataObject) -> None:
    async def apply(conn: asyncpg.Connection, ev: PasswordCredential) -> None:
        body = ev.model_dump(mode="json")
        await auth_consumers.on_credential(conn, envelope("credential.password", ev.employee, body))

    await converge(zones.pools["auth"], everything("credentials"), apply, events, data)


@EXAMPLES
@given(st.lists(factors, min_size=1, max_size=6), st.data())
async def test_factors_and_their_confirmation_steps(
    zones: Zones, events: list[Any], data: st.DataObject
) -> None:
    async def in_auth(conn: asyncpg.Connection, ev: FactorCredential) -> None:
        body = ev.model_dump(mode="json")
        await auth_consumers.on_factor(conn, envelope("factor.credential", ev.factor, body))

    async def in_enrolment(conn: asyncpg.Connection, ev: FactorCredential) -> None:
        body = ev.model_dump(mode="json")
        await enrolment_consumers.on_factor(conn, envelope("factor.credential", ev.factor, body))

    tables = everything("factors", "totp_steps")
    await converge(zones.pools["auth"], tables, in_auth, events, data)
    await converge(zones.pools["enrolment"], everything("factors"), in_enrolment, events, data)


@EXAMPLES
@given(st.lists(certificates, min_size=1, max_size=6), st.data())
async def test_certificates(zones: Zones, events: list[Any], data: st.DataObject) -> None:
    async def in_auth(conn: asyncpg.Connection, ev: CertificateUpserted) -> None:
        await fallbacks.upsert_certificate(conn, P, ev, ev.certificate_pem == "PEM-RSA")

    async def in_certs(conn: asyncpg.Connection, ev: CertificateUpserted) -> None:
        body = ev.model_dump(mode="json")
        await certs_consumers.on_certificate(conn, envelope("certificate.upserted", ev.nr, body))

    await converge(zones.pools["auth"], everything("certificates"), in_auth, events, data)
    (rows,) = await converge(
        zones.pools["certs"], everything("certificates"), in_certs, events, data
    )
    for row in rows:
        assert row["sealed_key"] is None, "a key never arrives over the bus"


clients = versioned(
    ClientState,
    {"client_id": st.sampled_from(["his", "lis"])},
    {
        "name": st.sampled_from(["HIS", "Praktijksoftware"]),
        "secret_hash": st.sampled_from(["a" * 64, "b" * 64]),
        "active": st.booleans(),
    },
)


@EXAMPLES
@given(st.lists(clients, min_size=1, max_size=6), st.data())
async def test_registered_clients(zones: Zones, events: list[Any], data: st.DataObject) -> None:
    handle = auth_clients.on_client(KEYRING)

    async def apply(conn: asyncpg.Connection, state: ClientState) -> None:
        sealed = client_rows.seal(KEYRING, state)
        body = client_rows.ClientPublished(client_id=state.client_id, sealed=sealed)
        await handle(conn, envelope(CLIENT_EVENT, state.client_id, body.model_dump()))

    await converge(zones.pools["auth"], everything("clients"), apply, events, data)


# -- sets and max-registers -------------------------------------------------------------------

USERNAMES = ["piet", "anna"]


@dataclass(frozen=True)
class Attempt:
    """``login.failed`` (a failure) or ``login.succeeded`` (a reset) from another zone."""

    id: uuid.UUID
    failed: bool
    username: str
    at: datetime
    zone: str


attempts = st.builds(
    Attempt,
    st.uuids(),
    st.booleans(),
    st.sampled_from(USERNAMES),
    times,
    st.sampled_from(["a", "b"]),
)


@EXAMPLES
@given(st.lists(attempts, min_size=1, max_size=8), st.data())
async def test_failed_attempts_and_resets(
    zones: Zones, events: list[Attempt], data: st.DataObject
) -> None:
    """A reset deletes the failures up to it when they are there; a failure up to a reset that
    arrives later stays as a row but no longer counts. So the state compared is what the
    lockout reads: per username, the failures after the latest reset (and that reset)."""

    async def apply(conn: asyncpg.Connection, a: Attempt) -> None:
        if a.failed:
            await auth_repo.add_failure(conn, P, a.username, a.at, a.zone, a.id)
        else:
            await auth_repo.login_succeeded(conn, P, a.username, a.username, a.at, {}, a.zone)

    counted = """SELECT f.username, f.at, f.zone, f.event_id FROM login_failures f
                 LEFT JOIN login_resets r ON r.practice = f.practice AND r.username = f.username
                 WHERE f.at > coalesce(r.at, '-infinity') ORDER BY f.event_id"""
    tables = {
        "login_failures": counted,
        **everything("login_resets", "last_logins"),
    }
    counts, _, _ = await converge(zones.pools["auth"], tables, apply, events, data)
    for username in USERNAMES:
        reset = max((a.at for a in events if a.username == username and not a.failed), default=None)
        expected = {
            a.id
            for a in events
            if a.username == username and a.failed and (reset is None or a.at > reset)
        }
        assert {r["event_id"] for r in counts if r["username"] == username} == expected


@EXAMPLES
@given(
    st.lists(st.tuples(st.sampled_from(["f1", "f2"]), st.integers(100, 103)), max_size=8),
    st.data(),
)
async def test_used_totp_steps(
    zones: Zones, events: list[tuple[str, int]], data: st.DataObject
) -> None:
    async def apply(conn: asyncpg.Connection, used: tuple[str, int]) -> None:
        # What auth's handler does with another zone's ``totp.used``.
        await totp_steps.add(conn, P, "e1", used[0], used[1])

    (rows,) = await converge(zones.pools["auth"], everything("totp_steps"), apply, events, data)
    assert {(r["factor"], r["step"]) for r in rows} == set(events)


revocations = st.one_of(
    st.builds(
        lambda sid, at: (
            "session.revoked",
            SessionRevoked(
                sid=sid, employee="e1", revoked_at=at, session_expires_at=at + timedelta(hours=8)
            ),
        ),
        st.sampled_from(["s1", "s2", "s3"]),
        times,
    ),
    st.builds(
        lambda employee, at: (
            "sessions.revoked",
            SessionsRevoked(employee=employee, before=at, reason="admin"),
        ),
        st.sampled_from(EMPLOYEE_IDS),
        times,
    ),
)


@EXAMPLES
@given(st.lists(revocations, min_size=1, max_size=8), st.data())
async def test_revocations_and_cutoffs(
    zones: Zones, events: list[tuple[str, Any]], data: st.DataObject
) -> None:
    async def apply(conn: asyncpg.Connection, event: tuple[str, Any]) -> None:
        type_, body = event
        await replicas.on_revocation(conn, envelope(type_, "e1", body.model_dump(mode="json")))

    tables = everything("revocations", "session_cutoffs")
    for service in ("auth", "enrolment", "certs"):
        _, cutoffs = await converge(zones.pools[service], tables, apply, events, data)
        for row in cutoffs:
            assert row["before"] == max(
                b.before
                for t, b in events
                if t == "sessions.revoked" and b.employee == row["employee"]
            )


@dataclass(frozen=True)
class Use:
    id: uuid.UUID
    employee: str
    certificate: str
    at: datetime
    zone: str


uses = st.builds(
    Use,
    st.uuids(),
    st.sampled_from(EMPLOYEE_IDS),
    st.sampled_from(["c1", "c2"]),
    times,
    st.sampled_from(["a", "b"]),
)


@EXAMPLES
@given(st.lists(uses, min_size=1, max_size=8), st.data())
async def test_fallback_uses(zones: Zones, events: list[Use], data: st.DataObject) -> None:
    async def apply(conn: asyncpg.Connection, u: Use) -> None:
        await fallbacks.add_use(conn, u.id, P, u.employee, u.certificate, u.at, u.zone)

    (rows,) = await converge(zones.pools["auth"], everything("fallback_uses"), apply, events, data)
    assert {r["id"] for r in rows} == {u.id for u in events}
