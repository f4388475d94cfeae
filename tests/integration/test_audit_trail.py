"""The audit trail end to end: auth, enrolment and certs in two zones on the real broker and
PostgreSQL. Acts in both zones (logins failing, a lockout, a TOTP login, an administrator's
password reset, practice settings, an employee, a certificate import and grant) must each be
in BOTH zones' stores once, with actor, object, source and outcome; a redelivery adds nothing;
filters, pages and the export agree; only the practice's administrator reads it; the table
is append-only except for the retention job."""

from __future__ import annotations

import base64
import csv
import functools
import io
import json
import os
import re
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.enrolment.api_audit import encode_cursor
from services.enrolment.http import AUDIT
from services.enrolment.settings import MIN_AUDIT_RETENTION_DAYS
from services.enrolment.use_cases.audit import AuditTrail
from services.web.app import create_app as create_web_app
from services.web.settings import WebSettings
from shared.events import Envelope, utcnow
from shared.topics import AUTH_EVENTS
from tests.support.bus import read_events, send
from tests.support.certificates import TestCA
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, pool, wait_for
from tests.support.factors import (
    add_factor,
    oathtool,
    second_step,
    steady,
    two_factor_practice,
    verify,
)
from tests.support.tokens import knows_tokens_of, session_token

P = "fysio"
PIET = "piet01"
PIET_PASSWORD = "Kruisbes-Vlinder-Aardbei-42!"
LOCALHOST = "127.0.0.1"
Row = tuple[str, str, str, str | None, str]


async def has(zone: Zone, sql: str, *args: Any) -> bool:
    return bool(await pool(zone).fetchval(sql, *args))


async def call(zone: Zone, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    response = await zone.client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status, await response.json(content_type=None)


async def audit(zone: Zone, token: str, query: str = "") -> tuple[int, Any]:
    return await call(zone, "GET", f"/v1/practices/{P}/audit{query}", token)


async def every_page(zone: Zone, token: str, query: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = ""
    while True:
        status, body = await audit(zone, token, f"?{query}{cursor}")
        assert status == 200, body
        pages.append(body["events"])
        if body["next"] is None:
            return pages
        cursor = f"&cursor={body['next']}"


def key(event: dict[str, Any]) -> Row:
    return (
        event["action"],
        event["source"],
        event["object"]["id"],
        event["actor"]["user"],
        event["outcome"],
    )


async def test_audit_trail_in_both_zones(cluster: Cluster) -> None:
    auth_a, auth_b = await cluster.start("a"), await cluster.start("b")
    enrol_a = await cluster.start("a", "enrolment")
    enrol_b = await cluster.start("b", "enrolment")
    certs_b = await cluster.start("b", "certs")
    admin = await cluster.bootstrap(auth_a)
    for zone in (enrol_a, enrol_b, certs_b):
        await wait_for(functools.partial(knows_tokens_of, pool(zone), auth_a, P, admin))
    status, body = await login(auth_a, P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    token = body["token"]["token"]

    # Settings in zone b, an employee in zone a, the employee's password set in zone b.
    status, body = await call(
        enrol_b, "PUT", f"/v1/practices/{P}", token, {"password_policy": {"max_attempts": 3}}
    )
    assert status == 200, body
    status, body = await call(
        enrol_a,
        "PUT",
        f"/v1/practices/{P}/employees/{PIET}",
        token,
        {"username": "piet", "name": "Piet de Vries", "rights_group": 2},
    )
    assert status == 200, body
    await wait_for(
        lambda: has(
            auth_b,
            """SELECT EXISTS (SELECT 1 FROM employees WHERE practice = $1 AND id = $2)
                  AND (SELECT (policy->>'max_attempts')::int = 3 FROM practices
                       WHERE id = $1)""",
            P,
            PIET,
        )
    )
    status, body = await call(
        auth_b,
        "PUT",
        f"/v1/practices/{P}/employees/{PIET}/password",
        token,
        {"password": PIET_PASSWORD, "temporary": False},
    )
    assert status == 200, body

    # Three wrong passwords lock Piet in zone b; an unknown user fails in zone a.
    for _ in range(3):
        status, body = await login(auth_b, P, "piet", "wrong")
        assert status == 401, body
    assert (await login(auth_a, P, "nobody", "wrong"))[0] == 401

    # A certificate imported and granted to Piet in zone b.
    await wait_for(
        lambda: has(certs_b, "SELECT EXISTS (SELECT 1 FROM employees WHERE id = $1)", PIET)
    )
    status, cert = await call(
        certs_b, "POST", f"/v1/practices/{P}/certificates", token, TestCA().issue().pem_body()
    )
    assert status == 201, cert
    nr = cert["nr"]
    status, body = await call(
        certs_b, "PUT", f"/v1/practices/{P}/certificates/{nr}/grants/{PIET}", token
    )
    assert status == 200, body

    # Two factors (an event without an actor, as host systems write) and a TOTP login.
    switched = utcnow()
    await two_factor_practice([auth_a], version=10)
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    await add_factor([auth_a], admin, "totp", {"secret": secret})
    await steady()
    step = await second_step(auth_a)
    status, body = await verify(auth_a, step["login_id"], "totp", await oathtool(secret))
    assert status == 200, body
    token = body["token"]

    expected: Counter[Row] = Counter(
        {
            ("login.succeeded", "auth@a", admin, admin, "success"): 2,
            ("practice.settings_changed", "enrolment@b", P, admin, "success"): 1,
            ("practice.settings_changed", "enrolment@a", P, None, "success"): 1,
            ("employee.changed", "enrolment@a", PIET, admin, "success"): 1,
            ("password.reset", "auth@b", PIET, admin, "success"): 1,
            ("login.failed", "auth@b", PIET, PIET, "failure"): 3,
            ("account.locked", "auth@b", PIET, PIET, "failure"): 1,
            ("login.failed", "auth@a", "user:nobody", None, "failure"): 1,
            ("certificate.imported", "certs@b", nr, admin, "success"): 1,
            ("certificate.granted", "certs@b", nr, admin, "success"): 1,
        }
    )

    async def complete(zone: Zone) -> bool:
        status, body = await audit(zone, token, "?limit=1000")
        return status == 200 and not expected - Counter(key(e) for e in body["events"])

    seen: dict[str, list[dict[str, Any]]] = {}
    for zone in (enrol_a, enrol_b):
        await wait_for(functools.partial(complete, zone), timeout=30)
        status, body = await audit(zone, token, "?limit=1000")
        seen[zone.settings.zone] = body["events"]
    ids_a = [e["id"] for e in seen["a"]]
    # Both zones hold the same records, each once, identical field by field.
    assert len(ids_a) == len(set(ids_a))
    strip = [{k: v for k, v in e.items() if k != "recorded_at"} for e in seen["a"]]
    assert strip == [{k: v for k, v in e.items() if k != "recorded_at"} for e in seen["b"]]
    by_key = {key(e): e for e in seen["a"]}
    reset = by_key[("password.reset", "auth@b", PIET, admin, "success")]
    assert reset["actor"] == {"user": admin, "rights_group": 1, "address": LOCALHOST}
    assert reset["object"] == {"type": "employee", "id": PIET}
    locked = by_key[("account.locked", "auth@b", PIET, PIET, "failure")]
    assert locked["actor"]["address"] == LOCALHOST and locked["detail"]["username"] == "piet"
    grant = by_key[("certificate.granted", "certs@b", nr, admin, "success")]
    assert grant["object"]["type"] == "certificate" and grant["detail"]["employee"] == PIET
    assert grant["actor"] == {"user": admin, "rights_group": 1, "address": LOCALHOST}
    settings = by_key[("practice.settings_changed", "enrolment@b", P, admin, "success")]
    assert settings["detail"]["policy"]["max_attempts"] == 3
    text = json.dumps(seen["a"])
    assert PIET_PASSWORD not in text and ADMIN_PASSWORD not in text and secret not in text

    # A redelivery adds nothing, also once the inbox has forgotten the event.
    raw = await read_events(
        cluster.broker,
        auth_a.settings.topic(AUTH_EVENTS.name),
        lambda evs: any(e["type"] == "account.locked" for e in evs),
    )
    again = Envelope.model_validate(next(e for e in raw if e["type"] == "account.locked"))
    await pool(enrol_a).execute(
        "DELETE FROM inbox WHERE consumer = 'enrolment-audit' AND event_id = $1", again.id
    )
    # The broker redelivers the record as it was written: with Tweestap's tag.
    await send(
        cluster.broker.bootstrap,
        auth_a.settings.topic(AUTH_EVENTS.name),
        again.model_dump_json().encode(),
        again.key.encode(),
    )
    await wait_for(
        lambda: has(
            enrol_a,
            "SELECT EXISTS (SELECT 1 FROM inbox WHERE consumer = 'enrolment-audit' "
            "AND event_id = $1)",
            again.id,
        )
    )
    count = "SELECT count(*) FROM audit_events WHERE practice = $1"
    assert await pool(enrol_a).fetchval(count, P) == len(ids_a)
    assert (
        await pool(enrol_a).fetchval(
            "SELECT count(*) FROM audit_events WHERE event_id = $1", again.id
        )
        == 1
    )

    # Filters and pages (a page boundary in the middle), then the export.
    status, body = await audit(enrol_a, token, "?type=login.failed,account.locked")
    assert status == 200
    assert Counter(e["action"] for e in body["events"]) == {"login.failed": 4, "account.locked": 1}
    status, body = await audit(enrol_a, token, "?type=login.failed&type=account.locked")
    assert len(body["events"]) == 5
    piet = [
        e
        for e in seen["a"]
        if PIET in (e["actor"]["user"], e["object"]["id"]) or e["detail"].get("employee") == PIET
    ]
    assert len(piet) == 7  # employee, reset, 3 failures, lockout, grant
    pages = await every_page(enrol_a, token, f"employee={PIET}&limit=3")
    got = {e["id"] for p in pages for e in p}
    assert [len(p) for p in pages] == [3, 3, 1], [key(e) for e in piet if e["id"] not in got]
    assert [e["id"] for p in pages for e in p] == [e["id"] for e in piet]
    since = f"from={switched.isoformat().replace('+00:00', 'Z')}"
    status, body = await audit(enrol_a, token, f"?{since}")
    assert {e["action"] for e in body["events"]} == {
        "practice.settings_changed",
        "login.succeeded",
    }, body
    until = f"to={switched.isoformat().replace('+00:00', 'Z')}"
    status, body = await audit(enrol_a, token, f"?{until}&type=login.succeeded")
    assert len(body["events"]) == 1
    response = await enrol_a.client.get(
        f"/v1/practices/{P}/audit/export?employee={PIET}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 200
    assert response.content_type == "application/x-ndjson"
    lines = [json.loads(line) for line in (await response.text()).splitlines()]
    assert [e["id"] for e in lines] == [e["id"] for e in piet]
    response = await enrol_b.client.get(
        f"/v1/practices/{P}/audit/export", headers={"Authorization": f"Bearer {token}"}
    )
    exported = [json.loads(line)["id"] for line in (await response.text()).splitlines()]
    assert exported == ids_a

    # Bad parameters are 400 naming them; only this practice's administrator reads.
    for query, name in (
        ("?from=yesterday", "from"),
        ("?to=2026-13-01T00:00:00Z", "to"),
        ("?type=login.exploded", "type"),
        ("?limit=0", "limit"),
        ("?cursor=bm9wZQ", "cursor"),
    ):
        status, body = await audit(enrol_a, token, query)
        assert status == 400 and body["parameter"] == name, (query, body)
    status, body = await call(
        enrol_a, "GET", f"/v1/practices/{P}/audit/export?from=yesterday", token
    )
    assert status == 400 and body["parameter"] == "from", body
    other = await cluster.bootstrap(auth_a, "tandarts")
    await wait_for(
        lambda: has(enrol_a, "SELECT EXISTS (SELECT 1 FROM employees WHERE id = $1)", other)
    )
    status, body = await login(auth_a, "tandarts", "admin", ADMIN_PASSWORD)
    assert status == 200, body
    assert (await audit(enrol_a, body["token"]["token"]))[0] == 403
    piet_token = session_token(auth_a, PIET, practice=P, lifetime=600)
    assert (await audit(enrol_a, piet_token))[0] == 403

    # Append-only: no UPDATE, no DELETE from a plain connection; the retention job purges.
    async with pool(enrol_a).acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE audit_events SET action = 'login.succeeded'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_events")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("TRUNCATE audit_events")
        old = uuid.uuid4()
        await conn.execute(
            """INSERT INTO audit_events (event_id, practice, time, action, outcome,
                   object_type, object_id, source)
               VALUES ($1, $2, $3, 'login.failed', 'failure', 'employee', 'x', 'auth@a')""",
            old,
            P,
            utcnow() - timedelta(days=MIN_AUDIT_RETENTION_DAYS + 1),
        )
    trail: AuditTrail = enrol_a.app[AUDIT]
    assert await trail.purge() == 1
    assert await pool(enrol_a).fetchval(count, P) == len(ids_a)
    assert not await has(
        enrol_a, "SELECT EXISTS (SELECT 1 FROM audit_events WHERE event_id = $1)", old
    )


# -- Hardening II finding 17: reading the audit trail needs a two-factor session (NEN 7513) --


TWO_FACTOR_REQUIRED = "https://tweestap.nl/problems/two-factor-required"


async def test_reading_the_audit_trail_needs_a_two_factor_session(cluster: Cluster) -> None:
    """A password-only administrator (a practice without "two factors required" gives such
    sessions) is refused the list, a cursor page and the export, with a type that says why; a
    two-factor session (``aal2``) and a certificate fallback (``aal2-fallback``: password plus
    certificate) read it."""
    auth = await cluster.start("a")
    enrol = await cluster.start("a", "enrolment")
    admin = await cluster.bootstrap(auth)
    await wait_for(functools.partial(knows_tokens_of, pool(enrol), auth, P, admin))
    status, body = await login(auth, P, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "done", body
    password_only = body["token"]["token"]
    claims = jwt.decode(password_only, options={"verify_signature": False})
    assert claims["aal"] == "aal1" and claims["amr"] == ["pwd"], claims
    cursor = encode_cursor(utcnow(), uuid.uuid4())
    paths = (
        f"/v1/practices/{P}/audit",
        f"/v1/practices/{P}/audit?cursor={cursor}&limit=5",
        f"/v1/practices/{P}/audit/export",
    )
    for path in paths:
        response = await enrol.client.get(
            path, headers={"Authorization": f"Bearer {password_only}"}
        )
        problem = await response.json(content_type=None)
        assert response.status == 403, (path, problem)
        assert problem["type"] == TWO_FACTOR_REQUIRED, (path, problem)
        assert response.content_type == "application/problem+json"
    for acr, amr in (("aal2", ["pwd", "otp"]), ("aal2-fallback", ["pwd", "hwk"])):
        token = session_token(
            auth, admin, practice=P, rights_group=1, aal=acr, amr=amr, lifetime=600
        )
        for path in paths:
            response = await enrol.client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status == 200, (acr, path, await response.text())


async def test_the_console_says_why_a_password_only_session_sees_no_audit_trail(
    cluster: Cluster,
) -> None:
    """The web console's audit page (and its export) with a password-only session: the
    enrolment service's refusal shown as a clear message, in Dutch and in English, instead of
    rows. Logged in again with a second factor, the same pages show the rows and export them."""
    auth = await cluster.start("a")
    enrol = await cluster.start("a", "enrolment")
    admin = await cluster.bootstrap(auth)
    await wait_for(
        functools.partial(
            has, enrol, "SELECT EXISTS (SELECT 1 FROM employees WHERE id = $1)", admin
        )
    )
    zone = {
        service: str(z.client.make_url("")).rstrip("/")
        for service, z in (("auth", auth), ("enrolment", enrol))
    }
    settings = WebSettings(zones=[zone], session_key=base64.b64encode(os.urandom(32)).decode())
    web: TestClient[Any, Any] = TestClient(TestServer(create_web_app(settings)))
    await web.start_server()

    async def post(path: str, **fields: str) -> str:
        """``fields`` posted to ``path`` with the session's CSRF token; where it leads."""
        page = await (await web.get("/login/step" if path != "/login" else "/login")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf, page
        answer = await web.post(path, data={**fields, "csrf": csrf.group(1)}, allow_redirects=False)
        assert answer.status == 303, await answer.text()
        return str(answer.headers["Location"])

    credentials = {"practice": P, "username": "admin", "password": ADMIN_PASSWORD}
    try:
        assert await post("/login", **credentials) == "/factors"
        for path in ("/console/audit", "/console/audit/export"):
            page = await web.get(path)
            html = await page.text()
            assert page.status == 403, html
            assert "twee factoren" in html and "<table" not in html, html
        await post("/language", locale="en", back="/console/audit")
        page = await web.get("/console/audit")
        html = await page.text()
        assert page.status == 403 and "two factors" in html, html

        # Two factors required and a TOTP app: the next login reads it.
        await two_factor_practice([auth], version=10)
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        await add_factor([auth], admin, "totp", {"secret": secret})
        await steady()
        assert await post("/login", **credentials) == "/login/step"
        assert await post("/login/factor", factor="totp") == "/login/step"
        assert await post("/login/verify", code=await oathtool(secret)) == "/factors"

        async def rows() -> str:
            page = await web.get("/console/audit?type=login.succeeded")
            html = await page.text()
            return html if page.status == 200 and 'data-action="login.succeeded"' in html else ""

        html = await wait_for(rows, timeout=30)
        assert '<table class="audit">' in html and "two factors" not in html
        assert 'data-action="login.succeeded">Logged in</td>' in html, "named, in English"
        assert re.search(r'<time datetime="[^"]+">\d\d-\d\d-20\d\d \d\d:\d\d</time>', html)
        export = await web.get("/console/audit/export?type=login.succeeded")
        assert export.status == 200 and export.content_type == "application/x-ndjson"
        lines = [json.loads(line) for line in (await export.text()).splitlines()]
        assert lines and {e["action"] for e in lines} == {"login.succeeded"}
        spreadsheet = await web.get("/console/audit/export.csv?type=login.succeeded")
        assert spreadsheet.status == 200 and spreadsheet.content_type == "text/csv"
        table = list(csv.reader(io.StringIO(await spreadsheet.text()), delimiter=";"))
        assert table[0][:3] == ["Time (Amsterdam)", "Action", "Outcome"], table[0]
        # A later login may have reached the trail between the two exports: never fewer rows.
        assert len(table) - 1 >= len(lines) and {r[1] for r in table[1:]} == {"Logged in"}
    finally:
        await web.close()
