"""The enrolment service with auth and the notifier in one zone: real PostgreSQL, the real
broker, a real SMTP server (activation and confirmation codes are read from the mail), a real
HTTP SMS gateway, and TOTP codes from Debian's ``oathtool`` (an independent generator).

Session tokens come from auth: a password login (``aal1``) while the practice does not require
two factors, enrolment tokens from a login that answers ``next: enrol``. Two-factor session
tokens (``aal2``, and a recovery-code session) are signed here with auth's own signing key, the
claims auth issues after a second factor, so these tests do not depend on auth's second step."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.events import Envelope, recovery_factor_id, utcnow
from shared.http import RUNTIME
from shared.otp import code_hash
from tests.support import enrolment
from tests.support.bus import produce
from tests.support.cluster import ADMIN_PASSWORD, BSN_KEY, Cluster, Zone, login, slug, wait_for
from tests.support.enrolment import (
    PIET,
    PIET_BIRTH,
    PIET_BSN,
    PIET_DATA,
    PIET_EMAIL,
    PIET_PASSWORD,
    PIET_PHONE,
    PRACTICE_EMAIL,
    P,
    Rig,
    enrol_login,
    enrol_totp,
    in_auth,
    opened,
    start,
    totp,
    two_factor_practice,
)
from tests.support.mail import SmtpSink, text_of

rig = enrolment.rig  # the fixture: auth and enrolment of zone a with an administrator


def bsn_hash(bsn: str) -> str:
    return hmac.new(BSN_KEY.encode(), bsn.zfill(9).encode(), hashlib.sha256).hexdigest()


async def next_second() -> None:
    """Token times are whole seconds: a session that starts in the same second as a cutoff
    counts as started before it. Wait for the next second."""
    await asyncio.sleep(1.05 - time.time() % 1)


@pytest.fixture
async def mail_rig(cluster: Cluster, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    async for r in start(cluster, smtp_sink, sms=True):
        yield r


def at_least(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda events: len(events) >= count


# -- practice settings ------------------------------------------------------------------------


async def test_practice_settings_and_the_two_factor_switch(rig: Rig) -> None:
    url = f"/v1/practices/{P}"
    status, practice = await rig.call("GET", url, rig.admin_token)
    assert status == 200 and practice["version"] == 1 and practice["email"] is None
    assert practice["password_policy"]["min_strength"] == 50

    status, body = await rig.call("PUT", url, rig.admin_token, {"two_factor_required": True})
    assert status == 422 and slug(body) == "two-factor-not-allowed", body
    assert body["unmet"] == ["min_strength", "email"]
    assert "60" in body["detail"] and "e-mail" in body["detail"]

    status, body = await rig.call(
        "PUT", url, rig.admin_token, {"password_policy": {"min_strength": 101}}
    )
    assert status == 422 and slug(body) == "invalid-request"

    status, body = await rig.call(
        "PUT",
        url,
        rig.admin_token,
        {
            "email": PRACTICE_EMAIL,
            "password_policy": {"min_strength": 60, "lockout_seconds": 600, "fallback_max_uses": 1},
        },
    )
    assert status == 200 and body["version"] == 2, body
    assert body["password_policy"]["history"] == 20, "policy fields not given keep their value"
    assert body["password_policy"]["fallback_max_uses"] == 1
    assert body["name"] == "Fysio Jansen" and not body["two_factor_required"]

    # Strength 50 with two factors: refused, and nothing changes.
    status, body = await rig.call(
        "PUT",
        url,
        rig.admin_token,
        {"two_factor_required": True, "password_policy": {"min_strength": 50}},
    )
    assert (
        status == 422
        and slug(body) == "two-factor-not-allowed"
        and body["unmet"] == ["min_strength"]
    )

    # The administrator (from bootstrap) has no birth date, e-mail or BSN.
    status, body = await rig.call("PUT", url, rig.admin_token, {"two_factor_required": True})
    assert status == 409 and slug(body) == "employees-incomplete", body
    assert body["employees"] == [
        {
            "employee": rig.admin,
            "username": "admin",
            "name": "Anna Jansen",
            "missing": ["birth_date", "email", "bsn"],
        }
    ]
    status, practice = await rig.call("GET", url, rig.admin_token)
    assert practice["version"] == 2 and practice["password_policy"]["min_strength"] == 60
    assert not practice["two_factor_required"]

    status, body = await rig.call(
        "PUT", url, rig.admin_token, {"two_factor_required": True, "confirm_incomplete": True}
    )
    assert status == 200 and body["two_factor_required"] and body["version"] == 3, body
    await wait_for(
        lambda: in_auth(rig, "SELECT two_factor_required FROM practices WHERE id = $1", P)
    )
    events = await rig.events("directory.practices", lambda es: len(es) >= 3)
    mine = [e for e in events if e["source"] == "enrolment@a"]
    assert [e["data"]["version"] for e in mine] == [2, 3]
    assert mine[-1]["data"]["email"] == PRACTICE_EMAIL
    assert mine[-1]["data"]["password_policy"]["lockout_seconds"] == 600
    assert mine[-1]["data"]["password_policy"]["fallback_max_uses"] == 1
    await wait_for(
        lambda: in_auth(
            rig, "SELECT (policy->>'fallback_max_uses')::int = 1 FROM practices WHERE id = $1", P
        )
    )

    # A password-only session ends once two factors are required; a two-factor one works.
    status, body = await rig.call("GET", url, rig.admin_token)
    assert status == 401 and slug(body) == "session-revoked"
    status, body = await rig.call("GET", url, rig.admin2())
    assert status == 200 and body["two_factor_required"]
    # Switching off needs nothing.
    status, body = await rig.call("PUT", url, rig.admin2(), {"two_factor_required": False})
    assert status == 200 and not body["two_factor_required"] and body["version"] == 4

    spec = await (await rig.enrol.client.get("/openapi.json")).json()
    for path in ("/v1/practices/{p}", "/v1/enrolment/{id}/identity", "/v1/factors/sms"):
        assert path in spec["paths"], path


# -- employees --------------------------------------------------------------------------------


async def test_employee_directory_validation_and_bsn_privacy(rig: Rig) -> None:
    url = f"/v1/practices/{P}/employees"
    admin = rig.admin_token

    status, body = await rig.call("PUT", f"{url}/{PIET}", admin, {**PIET_DATA, "bsn": "123456789"})
    assert status == 422 and slug(body) == "invalid-bsn", body
    assert "123456789" not in json.dumps(body)
    status, body = await rig.call(
        "PUT", f"{url}/{PIET}", admin, {**PIET_DATA, "phone": "0612345678"}
    )
    assert status == 422 and slug(body) == "invalid-request"
    assert [e["field"] for e in body["errors"]] == ["phone"]
    status, body = await rig.call("PUT", f"{url}/{PIET}", admin, {**PIET_DATA, "username": "ADMIN"})
    assert status == 409 and slug(body) == "username-taken"
    status, body = await rig.call("PUT", f"{url}/{PIET}", admin, {"username": "piet"})
    assert status == 422 and [e["field"] for e in body["errors"]] == ["name"]
    status, body = await rig.call(
        "PUT", f"{url}/{PIET}", admin, {**PIET_DATA, "birth_date": "1850-01-01"}
    )
    assert status == 422 and slug(body) == "invalid-request"
    assert await rig.pool.fetchval("SELECT count(*) FROM employees") == 1, "nothing was stored"

    status, piet = await rig.call(
        "PUT", f"{url}/{PIET}", admin, {**PIET_DATA, "phone": "+31 6 1234 5678"}
    )
    assert status == 200, piet
    assert piet["has_bsn"] and piet["phone"] == PIET_PHONE and piet["version"] == 1
    assert "bsn" not in piet and "bsn_hash" not in piet
    # An eight-digit BSN gets its leading zero; a rename keeps the stored hash.
    status, jan = await rig.call(
        "PUT",
        f"{url}/jan01",
        admin,
        {"username": "jan", "name": "Jan Smit", "bsn": "10000008", "in_service": True},
    )
    assert status == 200 and jan["has_bsn"] and jan["rights_group"] == 2
    status, jan = await rig.call("PUT", f"{url}/jan01", admin, {"name": "Jan Smit-Bakker"})
    assert status == 200 and jan["has_bsn"] and jan["version"] == 2 and jan["username"] == "jan"
    hashes = dict(
        await rig.pool.fetch("SELECT id, bsn_hash FROM employees WHERE id <> $1", rig.admin)
    )
    assert hashes == {PIET: bsn_hash(PIET_BSN), "jan01": bsn_hash("010000008")}
    # The same data again writes nothing.
    status, again = await rig.call("PUT", f"{url}/jan01", admin, {"name": "Jan Smit-Bakker"})
    assert status == 200 and again["version"] == 2
    # null removes an e-mail address (or phone number, or birth date)
    status, jan = await rig.call("PUT", f"{url}/jan01", admin, {"email": "jan@fysio-jansen.nl"})
    assert status == 200 and jan["email"] == "jan@fysio-jansen.nl" and jan["version"] == 3
    status, jan = await rig.call("PUT", f"{url}/jan01", admin, {"email": None})
    assert status == 200 and jan["email"] is None and jan["version"] == 4

    response = await rig.enrol.client.get(url, headers={"Authorization": f"Bearer {admin}"})
    text = await response.text()
    listed = json.loads(text)
    assert [e["username"] for e in listed] == ["admin", "jan", "piet"]
    for secret in (PIET_BSN, bsn_hash(PIET_BSN), "010000008", bsn_hash("010000008")):
        assert secret not in text

    status, ready = await rig.call("GET", f"/v1/practices/{P}/readiness", admin)
    assert status == 200
    by_name = {e["username"]: e for e in ready["employees"]}
    assert by_name["admin"]["missing"] == ["birth_date", "email", "bsn", "strong_factor"]
    assert by_name["piet"]["missing"] == ["strong_factor"] and not by_name["piet"]["ready"]
    assert by_name["jan"]["missing"] == ["birth_date", "email", "strong_factor"]
    assert ready["summary"] == {"employees": 3, "ready": 0, "incomplete": 2, "to_enrol": 1}

    await wait_for(
        lambda: in_auth(rig, "SELECT name = 'Jan Smit-Bakker' FROM employees WHERE id = 'jan01'")
    )
    events = await rig.events("directory.employees", lambda es: len(es) >= 6)
    raw = json.dumps(events)
    assert PIET_BSN not in raw and "010000008" not in raw and "10000008" not in raw
    piet_event = next(e for e in events if e["subject"] == PIET)
    assert piet_event["data"]["bsn_hash"] == bsn_hash(PIET_BSN)
    assert piet_event["data"]["phone"] == PIET_PHONE


async def _produce(rig: Rig, topic: str, event: Envelope) -> None:
    await produce(rig.cluster.broker.bootstrap, rig.topic(topic), event)


def host_event(employee: str, version: int = 1, **data: Any) -> Envelope:
    body = {
        "employee": employee,
        "username": employee,
        "name": "Host Employee",
        "rights_group": 2,
        "version": version,
        "updated_at": utcnow().isoformat(),
        "zone": "a",
        **data,
    }
    return Envelope(
        type="employee.upserted", source="his@a", practice=P, subject=employee, data=body
    )


async def test_host_events_invalid_ones_are_dead_lettered(rig: Rig) -> None:
    status, _ = await rig.call(
        "PUT", f"/v1/practices/{P}/employees/{PIET}", rig.admin_token, PIET_DATA
    )
    assert status == 200
    # The host system cannot compute BSN hashes: its upsert keeps the stored one.
    await _produce(
        rig,
        "directory.employees",
        host_event(PIET, version=2, username="piet", email="piet@elders.nl", birth_date=PIET_BIRTH),
    )
    await _produce(rig, "directory.employees", host_event("h1", phone="0612345678"))
    await _produce(rig, "directory.employees", host_event("h2", username="Admin"))
    await _produce(rig, "directory.employees", host_event("h3"))

    async def applied() -> bool:
        return bool(await rig.pool.fetchval("SELECT count(*) = 1 FROM employees WHERE id = 'h3'"))

    await wait_for(applied)
    piet = await rig.pool.fetchrow("SELECT * FROM employees WHERE id = $1", PIET)
    assert piet["version"] == 2 and piet["email"] == "piet@elders.nl"
    assert piet["bsn_hash"] == bsn_hash(PIET_BSN)
    assert await rig.pool.fetchval("SELECT count(*) FROM employees WHERE id IN ('h1', 'h2')") == 0

    # auth reads the same topic and dead-letters the invalid phone too: look at enrolment's.
    def of_enrolment(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["data"]["consumer"] == "enrolment"]

    found = await rig.events("deadletters", lambda es: len(of_enrolment(es)) >= 2)
    dead = of_enrolment(found)
    reasons = sorted(e["data"]["reason"] for e in dead)
    assert len(dead) == 2 and all(e["type"] == "dead_letter" for e in dead)
    assert "employee.upserted" in reasons[0] and "phone" in reasons[0]
    assert "username 'Admin' is taken" in reasons[1]


# -- the wizard -------------------------------------------------------------------------------


async def test_wizard_from_activation_code_to_factor_and_recovery_re_enrolment(
    mail_rig: Rig,
) -> None:
    rig = mail_rig
    await two_factor_practice(rig)
    login_id, token = await enrol_login(rig)

    status, started = await rig.call("POST", "/v1/enrolment", token)
    assert status == 200, started
    assert started["sent_to"] == "p***s@fysio-jansen.nl"
    assert datetime.fromisoformat(started["expires_at"]) > utcnow() + timedelta(minutes=59)
    enrolment = started["enrolment_id"]
    [mail] = await rig.mails(PIET_EMAIL, "activatiecode")
    assert PRACTICE_EMAIL in str(mail["From"])
    code = await rig.code(PIET_EMAIL, "activatiecode")
    assert len(code) == 10

    identity = {"activation_code": code.lower(), "birth_date": PIET_BIRTH, "bsn": "1112.22.333"}
    status, shown = await rig.call("POST", f"/v1/enrolment/{enrolment}/identity", token, identity)
    assert status == 200, shown
    secret = shown["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), "160 bits"
    assert shown["otpauth_uri"].startswith("otpauth://totp/Tweestap:piet@fysio?secret=" + secret)
    assert shown["qr_svg"].startswith("<svg") and "</svg>" in shown["qr_svg"]
    # Asking again (same checks) shows the same secret.
    status, again = await rig.call("POST", f"/v1/enrolment/{enrolment}/identity", token, identity)
    assert status == 200 and again["secret"] == secret
    # Not someone else's enrolment: the administrator (recovery session) gets 404.
    other = rig.token(rig.admin, 1, amr=("pwd", "rec"))
    status, body = await rig.call("POST", f"/v1/enrolment/{enrolment}/identity", other, identity)
    assert status == 404 and slug(body) == "not-found"

    status, body = await rig.call(
        "POST", f"/v1/enrolment/{enrolment}/confirm", token, {"code": "000000"}
    )
    if status == 200:  # one in a million: 000000 was the code
        pytest.skip("000000 happened to be the current code")
    assert status == 422 and slug(body) == "invalid-code", body
    # Still at the QR step after a wrong code: the same QR for the same login, no one else's.
    status, kept = await rig.call("GET", f"/v1/enrolment/{enrolment}/totp", token)
    assert status == 200 and kept == shown, kept
    status, body = await rig.call("GET", f"/v1/enrolment/{enrolment}/totp", other)
    assert status == 404 and slug(body) == "not-found"
    status, done = await rig.call(
        "POST", f"/v1/enrolment/{enrolment}/confirm", token, {"code": totp(secret)}
    )
    assert status == 200, done
    factor_id, recovery = done["factor_id"], done["recovery_code"]
    status, body = await rig.call("GET", f"/v1/enrolment/{enrolment}/totp", token)
    assert status == 404, "once confirmed, the secret is never shown again"
    assert re.fullmatch(r"[A-Z2-7]{5}(-[A-Z2-7]{5}){3}", recovery)

    # The factor and the recovery code, sealed, on the compacted factors topic.
    factors = await rig.events("factors", lambda es: len(es) >= 2)
    totp_event = next(e for e in factors if e["data"]["factor"] == factor_id)
    assert totp_event["subject"] == factor_id and totp_event["type"] == "factor.credential"
    assert totp_event["data"]["kind"] == "totp" and totp_event["data"]["active"]
    assert totp_event["data"]["confirmed_step"] in range(
        int(time.time()) // 30 - 2, int(time.time()) // 30 + 2
    )
    assert opened(totp_event) == {"secret": secret}
    rc_event = next(e for e in factors if e["data"]["kind"] == "recovery")
    assert rc_event["data"]["factor"] == recovery_factor_id(PIET)
    assert opened(rc_event) == {"hash": code_hash(recovery)}
    assert secret not in json.dumps(factors) and recovery not in json.dumps(factors)

    # The same login continues at auth with the app's next code: a two-factor session.
    response = await rig.auth.client.post(
        f"/v1/login/{login_id}/verify", json={"factor": "totp", "code": totp(secret, 30)}
    )
    issued = await response.json()
    assert response.status == 200, issued
    status, listed = await rig.call("GET", "/v1/factors", issued["token"])
    assert status == 200 and [f["kind"] for f in listed] == ["totp", "recovery"], listed
    assert listed[0]["factor_id"] == factor_id and listed[0]["sent_to"] is None

    # After it: the enrolment is finished, a second authenticator is refused.
    status, body = await rig.call("POST", f"/v1/enrolment/{enrolment}/identity", token, identity)
    assert status == 404
    status, body = await rig.call("POST", "/v1/enrolment", token)
    assert status == 409 and slug(body) == "factor-exists"
    [changed] = await rig.mails(PIET_EMAIL, "Wijziging")
    assert "ingesteld" in text_of(changed)

    # Lost phone: a login with the recovery code may enrol a new app for a short while.
    old_rec = rig.token(PIET, amr=("pwd", "rec"), auth_time=utcnow() - timedelta(seconds=901))
    status, body = await rig.call("POST", "/v1/enrolment", old_rec)
    assert status == 403 and slug(body) == "forbidden"
    status, body = await rig.call("POST", "/v1/enrolment", rig.token(PIET))
    assert status == 403, "an ordinary two-factor session does not enrol"
    rec = rig.token(PIET, amr=("pwd", "rec"))
    again_done = await enrol_totp(rig, rec, activations=2)
    assert again_done["factor_id"] != factor_id and again_done["secret"] != secret
    rows = await rig.pool.fetch(
        "SELECT id, kind, active, version FROM factors WHERE employee = $1 ORDER BY created_at, id",
        PIET,
    )
    state = {(r["id"], r["kind"]): (r["active"], r["version"]) for r in rows}
    assert state[(factor_id, "totp")] == (False, 2)
    assert state[(again_done["factor_id"], "totp")] == (True, 1)
    assert state[(recovery_factor_id(PIET), "recovery")] == (True, 2)

    events = await rig.events(
        "enrolment.events", lambda es: sum(e["type"] == "factor.enrolled" for e in es) >= 2
    )
    kinds = [e["type"] for e in events]
    assert kinds.count("enrolment.started") == 2 and kinds.count("factor.enrolled") == 2
    assert events[-1]["data"]["replaced"] == [factor_id]
    assert events[0]["data"]["login_id"] == login_id
    # No BSN in clear and no secret on any topic this flow wrote to.
    counts = {"enrolment.events": 4, "notify.requests": 4, "directory.employees": 2, "factors": 5}
    for topic, count in counts.items():
        raw = json.dumps(await rig.events(topic, at_least(count)))
        for value in (PIET_BSN, secret, code, recovery, again_done["secret"]):
            assert value not in raw, (topic, value)
    metrics = await (await rig.enrol.ops.get("/metrics")).text()
    assert 'step="confirm"' in metrics and "tweestap_factor_changes_total" in metrics


async def test_identity_failures_expiry_blocking_in_both_zones_and_unblocking(
    cluster: Cluster, smtp_sink: SmtpSink
) -> None:
    async for rig in start(cluster, smtp_sink, activation_code_seconds=3):
        # Zone b's enrolment service: it learns the other zone's failures and blocks.
        zone_b = await cluster.start("b", "enrolment", activation_code_seconds=3)
        await _identity_failures(rig, zone_b)


async def _identity_failures(rig: Rig, zone_b: Zone) -> None:
    pool_b = zone_b.app[RUNTIME].pool
    await two_factor_practice(rig)
    _, token = await enrol_login(rig)
    # An enrolment token is no session token, and not an administrator's.
    status, body = await rig.call("GET", f"/v1/practices/{P}", token)
    assert status == 401 and slug(body) == "unauthorized"
    status, body = await rig.call("GET", "/v1/factors", token)
    assert status == 401

    status, started = await rig.call("POST", "/v1/enrolment", token)
    assert status == 200
    url = f"/v1/enrolment/{started['enrolment_id']}/identity"
    code = await rig.code(PIET_EMAIL, "activatiecode")
    good = {"activation_code": code, "birth_date": PIET_BIRTH, "bsn": PIET_BSN}
    wrong = [
        {**good, "activation_code": "ABCDEFGHJK"},
        {**good, "bsn": "123456782"},
        {**good, "birth_date": "1980-05-18"},
    ]
    for n, attempt in enumerate(wrong, 1):
        status, body = await rig.call("POST", url, token, attempt)
        assert status == 422 and slug(body) == "identity-mismatch", body
        assert body["attempts_left"] == 5 - n
        assert "BSN" in body["detail"] and "code" in body["detail"], "does not say which"
    status, body = await rig.call("POST", url, token, {**good, "bsn": "123456789"})
    assert status == 422 and slug(body) == "invalid-bsn", "a typo the eleven-test catches"
    assert await rig.pool.fetchval("SELECT count(*) FROM identity_failures") == 3

    # Wait out the (3 s) activation code: a real clock, nothing to poll.
    left = datetime.fromisoformat(started["expires_at"]) - utcnow()
    await asyncio.sleep(max(0.0, left.total_seconds()) + 0.1)
    status, body = await rig.call("POST", url, token, good)
    assert status == 410 and slug(body) == "activation-code-expired", body

    # A new start replaces the expired one but not the count: two more failures block.
    status, started = await rig.call("POST", "/v1/enrolment", token)
    assert status == 200
    url = f"/v1/enrolment/{started['enrolment_id']}/identity"
    code = await rig.code(PIET_EMAIL, "activatiecode", 2)
    good = {"activation_code": code, "birth_date": PIET_BIRTH, "bsn": PIET_BSN}
    status, body = await rig.call("POST", url, token, {**good, "bsn": "123456782"})
    assert status == 422 and body["attempts_left"] == 1, body
    status, body = await rig.call("POST", url, token, {**good, "bsn": "123456782"})
    assert status == 423 and slug(body) == "enrolment-blocked", body
    status, body = await rig.call("POST", url, token, good)
    assert status == 423 and slug(body) == "enrolment-blocked"
    status, body = await rig.call("POST", "/v1/enrolment", token)
    assert status == 423 and slug(body) == "enrolment-blocked"
    [alert] = await rig.mails(PRACTICE_EMAIL, "geblokkeerd")
    assert "Piet de Vries" in text_of(alert) and "piet" in text_of(alert)
    events = await rig.events(
        "enrolment.events", lambda es: any(e["type"] == "enrolment.blocked" for e in es)
    )
    assert [e["type"] for e in events].count("identity.failed") == 5

    # The other zone knows the block too: no fresh start there.
    async def blocked_in_b() -> bool:
        return bool(await pool_b.fetchval("SELECT count(*) = 1 FROM enrolment_blocks"))

    await wait_for(blocked_in_b)
    assert await pool_b.fetchval("SELECT count(*) FROM identity_failures") == 5
    status, body = await rig.call("POST", "/v1/enrolment", token, zone=zone_b)
    assert status == 423 and slug(body) == "enrolment-blocked", body

    # The administrator's deactivation unblocks in both zones (and ends Piet's sessions).
    deactivate = f"/v1/practices/{P}/employees/{PIET}/factors"
    status, _ = await rig.call("DELETE", deactivate, rig.admin2())
    assert status == 204
    revoked = await rig.events(
        "sts.revocations", lambda es: any(e["type"] == "sessions.revoked" for e in es)
    )
    [cut] = [e for e in revoked if e["type"] == "sessions.revoked"]
    assert cut["data"]["employee"] == PIET and cut["data"]["reason"] == "deactivated"
    status, _ = await rig.call("DELETE", deactivate, rig.admin2())
    assert status == 204
    # The enrolment token outlives the cutoff (enrolling again is what follows a deactivation;
    # the wizard still needs the e-mailed code, birth date and BSN): enrolment is open again.
    status, body = await rig.call("POST", "/v1/enrolment", token)
    assert status == 200, body

    async def unblocked_in_b() -> bool:
        return bool(
            await pool_b.fetchval(
                "SELECT EXISTS (SELECT 1 FROM identity_resets) "
                "AND EXISTS (SELECT 1 FROM session_cutoffs)"
            )
        )

    await wait_for(unblocked_in_b)
    await next_second()
    _, token = await enrol_login(rig)
    status, started = await rig.call("POST", "/v1/enrolment", token, zone=zone_b)
    assert status == 200, started
    status, started = await rig.call("POST", "/v1/enrolment", token)
    assert status == 200, started
    assert await rig.pool.fetchval("SELECT count(*) FROM enrolments WHERE state = 'blocked'") == 0
    assert await rig.pool.fetchval("SELECT count(*) FROM identity_failures") == 0
    events = await rig.events("sts.revocations", lambda es: False, timeout=2)
    assert sum(e["type"] == "sessions.revoked" for e in events) == 1, "repeating changed nothing"


# -- the employee's own factors ---------------------------------------------------------------


async def test_sms_and_email_factors_recovery_code_and_deactivation(mail_rig: Rig) -> None:
    rig = mail_rig
    assert rig.gateway is not None
    await two_factor_practice(rig)
    piet = rig.token(PIET)
    status, body = await rig.call("POST", "/v1/factors/email", piet, {})
    assert status == 409 and slug(body) == "strong-factor-required", "weak only after strong"
    await enrol_totp(rig, (await enrol_login(rig))[1])

    status, listed = await rig.call("GET", "/v1/factors", piet)
    assert status == 200 and [f["kind"] for f in listed] == ["totp", "recovery"]
    status, body = await rig.call("GET", "/v1/factors", rig.token(PIET, aal="aal1", amr=("pwd",)))
    assert status == 401, "a password-only session ends when two factors are required"

    # E-mail factor at the directory's address, code from the mail.
    status, pending = await rig.call("POST", "/v1/factors/email", piet, {})
    assert status == 200 and pending["sent_to"] == "p***s@fysio-jansen.nl", pending
    email_id = pending["factor_id"]
    code = await rig.code(PIET_EMAIL, "inlogcode")
    assert re.fullmatch(r"\d{6}", code)
    wrong = "000000" if code != "000000" else "111111"
    status, body = await rig.call("POST", f"/v1/factors/{email_id}/confirm", piet, {"code": wrong})
    assert status == 422 and slug(body) == "invalid-code" and body["attempts_left"] == 4
    status, factor = await rig.call("POST", f"/v1/factors/{email_id}/confirm", piet, {"code": code})
    assert status == 200 and factor["kind"] == "email", factor
    status, body = await rig.call("POST", f"/v1/factors/{email_id}/confirm", piet, {"code": code})
    assert status == 404, "single use"

    # SMS factor at another number, code from the gateway.
    status, pending = await rig.call("POST", "/v1/factors/sms", piet, {"phone": "+31 6 8765 4321"})
    assert status == 200 and pending["sent_to"] == "+31*******21", pending
    sms_id = pending["factor_id"]

    async def texts() -> list[str]:
        assert rig.gateway is not None
        return rig.gateway.texts("+31687654321")

    [text] = await wait_for(texts)
    sms_code = re.search(r"\b(\d{6})\b", text)
    assert sms_code
    status, factor = await rig.call(
        "POST", f"/v1/factors/{sms_id}/confirm", piet, {"code": sms_code.group(1)}
    )
    assert status == 200 and factor["sent_to"] == "+31*******21"
    status, listed = await rig.call("GET", "/v1/factors", piet)
    assert [f["kind"] for f in listed] == ["totp", "sms", "email", "recovery"]
    assert [f["sent_to"] for f in listed][1:3] == ["+31*******21", "p***s@fysio-jansen.nl"]

    # Five wrong codes void a pending factor; an expired code is refused.
    status, pending = await rig.call("POST", "/v1/factors/sms", piet, {})
    assert status == 200 and pending["sent_to"] == "+31*******78"
    for _ in range(5):
        status, body = await rig.call(
            "POST", f"/v1/factors/{pending['factor_id']}/confirm", piet, {"code": "12345"}
        )
        assert status == 422
    assert body["attempts_left"] == 0
    [void_text] = await wait_for(lambda: texts_to(rig, PIET_PHONE))
    void_code = re.search(r"\b(\d{6})\b", void_text)
    assert void_code
    status, body = await rig.call(
        "POST", f"/v1/factors/{pending['factor_id']}/confirm", piet, {"code": void_code.group(1)}
    )
    assert status == 410 and slug(body) == "code-expired"
    status, pending = await rig.call("POST", "/v1/factors/email", piet, {"email": "p@elders.nl"})
    assert status == 200
    await rig.pool.execute(
        "UPDATE pending_factors SET expires_at = now() - interval '1 second' WHERE id = $1",
        pending["factor_id"],
    )
    status, body = await rig.call(
        "POST", f"/v1/factors/{pending['factor_id']}/confirm", piet, {"code": "123456"}
    )
    assert status == 410 and slug(body) == "code-expired"

    # A new recovery code replaces the old one.
    status, body = await rig.call("POST", "/v1/recovery-code", piet)
    assert status == 200 and re.fullmatch(r"[A-Z2-7]{5}(-[A-Z2-7]{5}){3}", body["recovery_code"])
    new_recovery = body["recovery_code"]
    factors = await rig.events(
        "factors",
        lambda es: any(e["data"]["kind"] == "recovery" and e["data"]["version"] == 2 for e in es),
    )
    latest = [e for e in factors if e["data"]["kind"] == "recovery"][-1]
    assert opened(latest) == {"hash": code_hash(new_recovery)}
    sms_event = next(e for e in factors if e["data"]["factor"] == sms_id)
    assert opened(sms_event) == {"to": "+31687654321"}
    await rig.mails(PIET_EMAIL, "Wijziging", 4)  # totp, e-mail, sms, recovery code

    # The administrator deactivates everything: factors inactive, sessions over.
    status, _ = await rig.call(
        "DELETE", f"/v1/practices/{P}/employees/{PIET}/factors", rig.admin2()
    )
    assert status == 204
    rows = await rig.pool.fetch("SELECT kind, active FROM factors WHERE employee = $1", PIET)
    assert sorted(r["kind"] for r in rows) == ["email", "recovery", "sms", "totp"]
    assert not any(r["active"] for r in rows)
    factors = await rig.events("factors", lambda es: sum(not e["data"]["active"] for e in es) >= 4)
    inactive = [e for e in factors if not e["data"]["active"]]
    assert {e["data"]["kind"] for e in inactive} == {"totp", "sms", "email", "recovery"}
    assert all(opened(e) == {} for e in inactive), "an inactive factor keeps no secret"
    revoked = await rig.events(
        "sts.revocations", lambda es: any(e["type"] == "sessions.revoked" for e in es)
    )
    assert [e["data"]["employee"] for e in revoked if e["type"] == "sessions.revoked"] == [PIET]
    events = await rig.events(
        "enrolment.events", lambda es: any(e["type"] == "factor.deactivated" for e in es)
    )
    types = [e["type"] for e in events]
    assert types.count("factor.enrolled") == 3 and types.count("recovery.regenerated") == 1
    [deactivated] = [e for e in events if e["type"] == "factor.deactivated"]
    assert len(deactivated["data"]["factors"]) == 4 and deactivated["data"]["by"] == rig.admin
    status, body = await rig.call("GET", "/v1/factors", piet)
    assert status == 401 and slug(body) == "session-revoked"
    # A session that starts after the deactivation lives, also within the same second when
    # its auth_time has the fraction (whole seconds cannot tell "just before" from "just after").
    status, body = await rig.call("GET", "/v1/factors", rig.token(PIET, precise=True))
    assert status == 200 and body == [], body
    [notice] = [
        m for m in await rig.mails(PIET_EMAIL, "Wijziging", 5) if "uitgeschakeld" in text_of(m)
    ]
    assert notice is not None


async def texts_to(rig: Rig, number: str) -> list[str]:
    assert rig.gateway is not None
    return rig.gateway.texts(number)


# -- tokens and tenant isolation --------------------------------------------------------------


async def test_tenant_isolation_and_token_checks(rig: Rig) -> None:
    other_admin = await rig.cluster.bootstrap(rig.auth, "other")
    await wait_for(
        lambda: _fetch(
            rig, "SELECT 1 FROM employees WHERE practice = 'other' AND id = $1", other_admin
        )
    )
    status, body = await login(rig.auth, "other", "admin", ADMIN_PASSWORD)
    assert status == 200
    foreign = body["token"]["token"]
    status, _ = await rig.call(
        "PUT", f"/v1/practices/{P}/employees/{PIET}", rig.admin_token, PIET_DATA
    )
    assert status == 200
    await wait_for(lambda: in_auth(rig, "SELECT 1 FROM employees WHERE id = $1", PIET))
    response = await rig.auth.client.put(
        f"/v1/practices/{P}/employees/{PIET}/password",
        json={"password": PIET_PASSWORD, "temporary": False},
        headers={"Authorization": f"Bearer {rig.admin_token}"},
    )
    assert response.status == 200
    status, body = await login(rig.auth, P, "piet", PIET_PASSWORD)
    assert status == 200 and body["next"] == "done"
    employee = body["token"]["token"]  # rights group 2

    async def snapshot() -> Any:
        return (
            await rig.pool.fetch("SELECT * FROM practices ORDER BY id"),
            await rig.pool.fetch("SELECT * FROM employees ORDER BY practice, id"),
            await rig.pool.fetchval("SELECT count(*) FROM outbox"),
        )

    await wait_for(lambda: _fetch(rig, "SELECT count(*) = 0 FROM outbox"))
    before = await snapshot()
    admin_calls = [
        ("GET", f"/v1/practices/{P}", None),
        ("PUT", f"/v1/practices/{P}", {"name": "Overgenomen", "email": "x@evil.example"}),
        ("GET", f"/v1/practices/{P}/readiness", None),
        ("GET", f"/v1/practices/{P}/employees", None),
        ("PUT", f"/v1/practices/{P}/employees/{PIET}", {"rights_group": 1}),
        ("PUT", f"/v1/practices/{P}/employees/intruder", {"username": "x", "name": "X"}),
        ("DELETE", f"/v1/practices/{P}/employees/{PIET}/factors", None),
    ]
    for token in (foreign, employee):
        for method, path, payload in admin_calls:
            status, body = await rig.call(method, path, token, payload)
            assert status == 403 and slug(body) == "forbidden", (method, path, body)
    # The other practice's administrator manages their own practice only.
    status, body = await rig.call("GET", "/v1/practices/other/employees", foreign)
    assert status == 200 and [e["username"] for e in body] == ["admin"]
    status, body = await rig.call("GET", "/v1/practices/other/employees", rig.admin_token)
    assert status == 403
    # Employees see only their own factors; the wizard needs an enrolment token.
    status, body = await rig.call("GET", "/v1/factors", employee)
    assert status == 403, "a password-only session has no factors to manage"
    status, body = await rig.call("GET", "/v1/factors", rig.token(PIET))
    assert status == 200 and body == []
    status, body = await rig.call("POST", "/v1/enrolment", foreign)
    assert status == 403
    assert await snapshot() == before, "nothing changed"

    # Not a token, a token of another issuer's key, no token.
    for header in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic eA=="}):
        response = await rig.enrol.client.get(f"/v1/practices/{P}", headers=header)
        assert response.status == 401 and (await response.json())["type"].endswith("/unauthorized")
    # A session revoked at auth is refused here once the revocation arrives.
    status, body = await login(rig.auth, P, "admin", ADMIN_PASSWORD)
    second = body["token"]["token"]
    assert (await rig.call("GET", f"/v1/practices/{P}", second))[0] == 200
    revoke = await rig.auth.client.post(
        "/v1/tokens/revoke", headers={"Authorization": f"Bearer {second}"}
    )
    assert revoke.status == 204

    async def refused() -> bool:
        return (await rig.call("GET", f"/v1/practices/{P}", second))[0] == 401

    await wait_for(refused)
    assert (await rig.call("GET", f"/v1/practices/{P}", rig.admin_token))[0] == 200
    # Out of service: the session ends here too.
    status, _ = await rig.call(
        "PUT", f"/v1/practices/{P}/employees/{PIET}", rig.admin_token, {"in_service": False}
    )
    assert status == 200
    status, body = await rig.call("GET", "/v1/factors", rig.token(PIET))
    assert status == 401 and slug(body) == "session-revoked"


async def _fetch(rig: Rig, sql: str, *args: Any) -> bool:
    return bool(await rig.pool.fetchval(sql, *args))
