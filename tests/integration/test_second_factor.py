"""The second step of a login (TOTP, SMS and e-mail codes, recovery codes) and session cutoffs,
on real PostgreSQL and the real broker. The enrolment service is simulated: the tests publish
its `practice.upserted`, `employee.upserted` and `factor.credential` events through the outbox,
sealed with the suite's keyring. TOTP codes come from Debian's `oathtool`, an independent
generator."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime, timedelta

from services.auth.domain.tokens import Session
from shared import otp
from shared.events import SessionsRevoked, factor_aad, utcnow
from shared.http import RUNTIME
from shared.topics import STS_REVOCATIONS
from tests.support.bus import events, of_type, read_topic
from tests.support.cluster import ADMIN_PASSWORD, KEYRING, Cluster, login, wait_for
from tests.support.factors import (
    EMAIL,
    PHONE,
    PRACTICE,
    PRACTICE_EMAIL,
    add_factor,
    challenge,
    claims_of,
    emit,
    oathtool,
    problem,
    second_step,
    sent_codes,
    set_employee,
    steady,
    step_time,
    two_factor_practice,
    two_factor_setup,
    until_in,
    verify,
    wrong,
)
from tests.support.mail import SmtpSink, text_of
from tests.support.tokens import introspect, renew

# -- tests ------------------------------------------------------------------------------------


async def test_login_offers_factors_strongest_first_and_totp_completes_it(
    cluster: Cluster,
) -> None:
    s = await two_factor_setup(cluster)
    zone = s.zone
    await add_factor(s.zones, s.employee, "recovery", {"hash": otp.code_hash("AAAAA-BBBBB")})
    await add_factor(s.zones, s.employee, "email", {"to": EMAIL})
    await add_factor(s.zones, s.employee, "sms", {"to": PHONE})
    body = await second_step(zone)
    assert body["factors"] == ["totp", "sms", "email", "recovery"]
    assert body["token"] is None and body["enrolment_token"] is None
    # Someone else's authenticator does not complete this employee's login.
    other = otp.new_secret()
    await add_factor(s.zones, "someone-else", "totp", {"secret": other})
    code = await oathtool(s.secret)
    problem(
        await verify(zone, body["login_id"], "totp", wrong(code, await oathtool(other))),
        401,
        "invalid-code",
    )
    problem(
        await verify(zone, body["login_id"], "totp", await oathtool(other)), 401, "invalid-code"
    )
    # The same code sent twice at once (a double click): one completes, the other finds the
    # login gone — no replay alarm.
    answers = await asyncio.gather(
        verify(zone, body["login_id"], "totp", code), verify(zone, body["login_id"], "totp", code)
    )
    assert sorted(status for status, _ in answers) == [200, 404], answers
    token = next(answer for status, answer in answers if status == 200)
    assert token["recovery_code"] is None
    claims = await claims_of(zone, token["token"])
    assert claims["aal"] == "aal2" and claims["amr"] == ["pwd", "otp"]
    assert claims["sub"] == s.employee and claims["scope"] == "session"
    info = await introspect(zone, token["token"])
    assert info["active"] is True and info["aal"] == "aal2"
    status, _ = await renew(zone, token["token"])
    assert status == 200, "a two-factor session renews in a two-factor practice"
    metrics = await (await zone.ops.get("/metrics")).text()
    assert re.search(
        r'tweestap_second_factor_total\{.*factor="totp".*outcome="success".*\} 1', metrics
    )
    assert re.search(r'tweestap_second_factor_total\{.*outcome="invalid".*\} 2', metrics)
    assert "tweestap_totp_verify_seconds_count" in metrics
    # The login is complete: a second verify finds nothing, whatever the code.
    problem(await verify(zone, body["login_id"], "totp", code), 404, "login-not-found")
    problem(await verify(zone, "no-such-login", "totp", code), 404, "login-not-found")
    used = await events(cluster, zone, "auth.events", of_type("totp.used", employee=s.employee))
    assert abs(used[0]["data"]["step"] - otp.time_step(utcnow())) <= 1
    await events(cluster, zone, "auth.events", of_type("login.succeeded", employee=s.employee))
    # Earlier failures of this username were reset by the success.
    assert await zone.auth.pool.fetchval("SELECT count(*) FROM login_failures") == 0


async def test_totp_drift_of_one_step_and_the_confirmation_step(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, totp=False)
    zone = s.zone
    base = await steady()
    await add_factor(
        s.zones, s.employee, "totp", {"secret": s.secret}, confirmed_step=otp.time_step(base)
    )
    codes = {n: await oathtool(s.secret, step_time(base, n)) for n in (-2, -1, 0, 1, 2)}
    body = await second_step(zone)
    # The code that confirmed the enrolment is spent: refused, but no alarm.
    problem(await verify(zone, body["login_id"], "totp", codes[0]), 401, "code-already-used")
    problem(await verify(zone, body["login_id"], "totp", codes[-2]), 401, "invalid-code")
    problem(await verify(zone, body["login_id"], "totp", codes[2]), 401, "invalid-code")
    # Steps only go forward: one step behind the confirmation step is refused (issue 10 #4;
    # one step behind with nothing later used is accepted: test_login_races).
    problem(await verify(zone, body["login_id"], "totp", codes[-1]), 401, "code-already-used")
    status, _ = await verify(zone, body["login_id"], "totp", codes[1])
    assert status == 200, "one step ahead is accepted"
    replays = await events(
        cluster, zone, "auth.events", of_type("totp.replayed", employee=s.employee)
    )
    assert replays[0]["data"]["confirmation"] is True
    requests = await read_topic(
        cluster.broker.bootstrap,
        zone.settings.topic("notify.requests"),
        lambda evs: False,
        timeout=1,
    )
    assert not [r for r in requests if r["data"]["template"] == "totp_replay"]


async def test_replayed_code_is_refused_reported_and_mailed(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone = s.zone
    code = await oathtool(s.secret)
    first = await second_step(zone)
    status, _ = await verify(zone, first["login_id"], "totp", code)
    assert status == 200
    second = await second_step(zone)
    problem(await verify(zone, second["login_id"], "totp", code), 401, "code-already-used")
    replayed = await events(
        cluster, zone, "auth.events", of_type("totp.replayed", employee=s.employee)
    )
    assert replayed[0]["data"]["confirmation"] is False
    await events(cluster, zone, "auth.events", of_type("login.failed", factor="totp"))
    (notice,) = await events(
        cluster, zone, "notify.requests", of_type("notify.requested", template="totp_replay")
    )
    assert notice["data"]["recipient"] == EMAIL and notice["data"]["channel"] == "email"
    assert set(notice["data"]["parameters"]) == {"practice_name", "employee_name", "used_at"}
    assert code not in json.dumps(notice), "no code in clear"
    # The login stays open: the next code of the app completes it.
    status, _ = await verify(
        zone, second["login_id"], "totp", await oathtool(s.secret, utcnow() + timedelta(seconds=30))
    )
    assert status == 200


async def test_wrong_codes_count_toward_lockout(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone = s.zone
    await two_factor_practice(s.zones, 3, max_attempts=3, lockout_seconds=600)
    valid = [await oathtool(s.secret, utcnow() + timedelta(seconds=d)) for d in (-30, 0, 30)]
    body = await second_step(zone)
    for _ in range(3):
        problem(await verify(zone, body["login_id"], "totp", wrong(*valid)), 401, "invalid-code")
    locked = await verify(zone, body["login_id"], "totp", valid[1])
    problem(locked, 429, "account-locked")
    assert 500 < locked[1]["retry_after"] <= 601
    problem(await login(zone, PRACTICE, "admin", ADMIN_PASSWORD), 429, "account-locked")
    failed = await events(cluster, zone, "auth.events", of_type("login.failed"), 3)
    assert {e["data"].get("factor") for e in failed} == {"totp"}
    await events(cluster, zone, "auth.events", of_type("account.locked"))


async def test_sms_codes_single_use_limited_tries_and_sends(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone = s.zone
    await add_factor(s.zones, s.employee, "sms", {"to": PHONE})
    body = await second_step(zone)
    assert body["factors"] == ["totp", "sms"]
    problem(await challenge(zone, body["login_id"], "email"), 422, "factor-not-available")
    problem(await challenge(zone, body["login_id"], "certificate"), 422, "factor-not-available")
    problem(await challenge(zone, "no-such-login", "sms"), 404, "login-not-found")
    status, sent = await challenge(zone, body["login_id"], "sms")
    assert status == 200, sent
    assert sent["factor"] == "sms" and sent["sent_to"] == "+31*******78"
    (code,) = await sent_codes(cluster, zone, "sms", 1)
    assert re.fullmatch(r"\d{6}", code)
    problem(await verify(zone, body["login_id"], "sms", wrong(code)), 401, "invalid-code")
    status, token = await verify(zone, body["login_id"], "sms", code)
    assert status == 200, token
    claims = await claims_of(zone, token["token"])
    assert claims["amr"] == ["pwd", "sms"] and claims["aal"] == "aal2"

    # Three wrong tries make a code void: the right one no longer works.
    body = await second_step(zone)
    assert (await challenge(zone, body["login_id"], "sms"))[0] == 200
    code = (await sent_codes(cluster, zone, "sms", 2))[-1]
    for _ in range(3):
        problem(await verify(zone, body["login_id"], "sms", wrong(code)), 401, "invalid-code")
    problem(await verify(zone, body["login_id"], "sms", code), 401, "invalid-code")

    # The third send in the window goes out, the fourth is refused.
    assert (await challenge(zone, body["login_id"], "sms"))[0] == 200
    refused = await challenge(zone, body["login_id"], "sms")
    problem(refused, 429, "too-many-codes")
    assert 0 < refused[1]["retry_after"] <= 901
    code = (await sent_codes(cluster, zone, "sms", 3))[-1]
    status, _ = await verify(zone, body["login_id"], "sms", code)
    assert status == 200, "the newest code still works"
    problem(await verify(zone, body["login_id"], "sms", code), 404, "login-not-found")


async def test_sms_code_expires(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, otp_code_seconds=1)
    zone = s.zone
    await add_factor(s.zones, s.employee, "sms", {"to": PHONE})
    body = await second_step(zone)
    status, sent = await challenge(zone, body["login_id"], "sms")
    assert status == 200
    (code,) = await sent_codes(cluster, zone, "sms", 1)
    expires_at = datetime.fromisoformat(sent["expires_at"])

    async def expired() -> bool:
        return utcnow() > expires_at

    await wait_for(expired, timeout=5)
    problem(await verify(zone, body["login_id"], "sms", code), 401, "code-expired")


async def test_email_code_through_the_notifier(cluster: Cluster, smtp_sink: SmtpSink) -> None:
    s = await two_factor_setup(cluster)
    zone = s.zone
    notifier = await cluster.start("a", "notifier", smtp_port=smtp_sink.port)

    async def sender_known() -> bool:
        # Topics are consumed independently: the practice's address must be there first.
        email = await notifier.app[RUNTIME].pool.fetchval(
            "SELECT email FROM practices WHERE id = $1", PRACTICE
        )
        return bool(email == PRACTICE_EMAIL)

    await wait_for(sender_known)
    await add_factor(s.zones, s.employee, "email", {"to": EMAIL})
    body = await second_step(zone)
    status, sent = await challenge(zone, body["login_id"], "email")
    assert status == 200 and sent["sent_to"] == "a***@fysio-jansen.example", sent
    (message,) = await smtp_sink.inbox.wait(EMAIL)
    assert PRACTICE_EMAIL in str(message["From"])
    found = re.search(r"\b(\d{6})\b", text_of(message))
    assert found, text_of(message)
    status, token = await verify(zone, body["login_id"], "email", found.group(1))
    assert status == 200, token
    assert (await claims_of(zone, token["token"]))["amr"] == ["pwd", "email"]


async def test_recovery_code_is_replaced_when_used(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone = s.zone
    old = otp.recovery_code()
    factor = await add_factor(s.zones, s.employee, "recovery", {"hash": otp.code_hash(old)})
    body = await second_step(zone)
    assert body["factors"] == ["totp", "recovery"]
    status, token = await verify(zone, body["login_id"], "recovery", old.lower())
    assert status == 200, token
    new = token["recovery_code"]
    assert re.fullmatch(r"[A-Z2-7]{5}(-[A-Z2-7]{5}){3}", new) and new != old
    assert (await claims_of(zone, token["token"]))["amr"] == ["pwd", "rec"]
    (credential,) = await events(
        cluster,
        zone,
        "factors",
        lambda e: e["type"] == "factor.credential" and e["data"]["version"] == 2,
    )
    assert credential["subject"] == factor and credential["data"]["active"] is True
    sealed = json.loads(
        KEYRING.open(credential["data"]["sealed"], factor_aad(PRACTICE, s.employee, factor))
    )
    assert sealed == {"hash": otp.code_hash(new)}
    await events(cluster, zone, "auth.events", of_type("recovery.used", employee=s.employee))
    (notice,) = await events(
        cluster, zone, "notify.requests", of_type("notify.requested", template="factor_changed")
    )
    assert notice["data"]["recipient"] == EMAIL
    assert notice["data"]["parameters"]["change"] == "recovery code used"
    assert new not in json.dumps(notice) and old not in json.dumps(notice)

    body = await second_step(zone)
    problem(await verify(zone, body["login_id"], "recovery", old), 401, "invalid-code")
    status, again = await verify(zone, body["login_id"], "recovery", new)
    assert status == 200 and again["recovery_code"] not in (None, new, old)


async def test_weak_factors_need_a_strong_one(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, totp=False)
    zone = s.zone
    await add_factor(s.zones, s.employee, "email", {"to": EMAIL})
    await add_factor(s.zones, s.employee, "recovery", {"hash": otp.code_hash("AAAAA")})
    status, body = await login(zone, PRACTICE, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "enrol" and body["factors"] == []
    problem(await challenge(zone, body["login_id"], "email"), 404, "login-not-found")
    problem(await verify(zone, body["login_id"], "email", "123456"), 422, "factor-not-available")
    problem(await verify(zone, body["login_id"], "recovery", "AAAAA"), 422, "factor-not-available")


async def test_enrol_step_continues_when_the_authenticator_arrives(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, totp=False, factor_wait_seconds=3)
    zone = s.zone
    base = utcnow()
    status, body = await login(zone, PRACTICE, "admin", ADMIN_PASSWORD)
    assert status == 200 and body["next"] == "enrol" and body["enrolment_token"]
    code = await oathtool(s.secret, base)
    started = time.monotonic()
    problem(await verify(zone, body["login_id"], "totp", code), 409, "factor-not-ready")
    assert time.monotonic() - started >= 2.9, "waited for the authenticator"
    problem(await verify(zone, body["login_id"], "sms", code), 422, "factor-not-available")
    # The wizard confirms with one code (spent); the employee types the current one.
    pending = asyncio.create_task(verify(zone, body["login_id"], "totp", code))
    await asyncio.sleep(0.2)
    assert not pending.done()
    await add_factor(
        s.zones,
        s.employee,
        "totp",
        {"secret": s.secret},
        confirmed_step=otp.time_step(base) - 1,
    )
    status, token = await pending
    assert status == 200, token
    claims = await claims_of(zone, token["token"])
    assert claims["aal"] == "aal2" and claims["amr"] == ["pwd", "otp"]
    problem(await verify(zone, body["login_id"], "totp", code), 404, "login-not-found")


async def test_cutoffs_end_earlier_sessions(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster)
    zone = s.zone
    base = utcnow()
    body = await second_step(zone)
    status, first = await verify(zone, body["login_id"], "totp", await oathtool(s.secret, base))
    assert status == 200
    auth_time = Session.from_claims(await claims_of(zone, first["token"])).auth_time
    revoked = SessionsRevoked(employee=s.employee, before=auth_time, reason="admin")
    await emit(
        zone, STS_REVOCATIONS, "sessions.revoked", s.employee, revoked.model_dump(mode="json")
    )
    await until_in([zone], "SELECT count(*) = 1 FROM session_cutoffs")
    problem(await renew(zone, first["token"]), 401, "session-revoked")
    assert await introspect(zone, first["token"]) == {"active": False}

    # A session that starts after the cutoff lives.
    async def later_second() -> bool:
        return utcnow() >= auth_time + timedelta(seconds=1)

    await wait_for(later_second)
    body = await second_step(zone)
    status, second = await verify(
        zone, body["login_id"], "totp", await oathtool(s.secret, base + timedelta(seconds=30))
    )
    assert status == 200, second
    assert (await renew(zone, second["token"]))[0] == 200

    # Out of service ends it, and it stays ended when the employee is back in service.
    await set_employee(s.zones, s.employee, 3, in_service=False)
    problem(await renew(zone, second["token"]), 401, "session-revoked")
    await set_employee(s.zones, s.employee, 4, in_service=True)
    problem(await renew(zone, second["token"]), 401, "session-revoked")
    assert await introspect(zone, second["token"]) == {"active": False}


async def test_step_used_in_one_zone_is_refused_in_the_other(cluster: Cluster) -> None:
    s = await two_factor_setup(cluster, zones=("a", "b"))
    a, b = s.zones
    code = await oathtool(s.secret)
    body = await second_step(a)
    status, _ = await verify(a, body["login_id"], "totp", code)
    assert status == 200
    await until_in([b], "SELECT count(*) = 1 FROM totp_steps")
    body = await second_step(b)
    problem(await verify(b, body["login_id"], "totp", code), 401, "code-already-used")
    status, _ = await verify(
        b, body["login_id"], "totp", await oathtool(s.secret, utcnow() + timedelta(seconds=30))
    )
    assert status == 200
