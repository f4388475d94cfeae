"""The employee's own sign-in methods (issue 25), on real PostgreSQL, the broker and SMTP:
removing one (replicated to auth in both zones as an inactive credential, announced as
``factor.removed`` with who did it, the employee told by e-mail); and the refusals — a stale or
fallback session, another employee's factor, the last strong one — which change nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import ClientResponse

from shared.events import utcnow
from tests.support.bus import read_topic
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, login, slug, wait_for
from tests.support.enrolment import (
    PIET,
    PIET_EMAIL,
    P,
    Rig,
    enrol_login,
    enrol_totp,
    start,
    totp,
    two_factor_practice,
)
from tests.support.mail import SmtpSink
from tests.support.site import Site, Sites, WebClient, log_in, post, session_of
from tests.support.story import JAN, JAN_PASSWORD, PRACTICE, Authenticator
from tests.support.tokens import bearer, renew


@pytest.fixture
async def rig(cluster: Cluster, smtp_sink: SmtpSink) -> AsyncIterator[Rig]:
    """Enrolment and auth of zone a, with mail to a real SMTP server."""
    async for started in start(cluster, smtp_sink):
        yield started


async def email_factor(rig: Rig, token: str) -> str:
    """An e-mail factor at the directory's address, confirmed with the mailed code."""
    status, pending = await rig.call("POST", "/v1/factors/email", token, {})
    assert status == 200, pending
    code = await rig.code(PIET_EMAIL, "inlogcode")
    path = f"/v1/factors/{pending['factor_id']}/confirm"
    status, factor = await rig.call("POST", path, token, {"code": code})
    assert status == 200, factor
    return str(pending["factor_id"])


async def active_at(zone: Zone, factor_id: str) -> bool | None:
    active: bool | None = await zone.auth.pool.fetchval(
        "SELECT active FROM factors WHERE practice = $1 AND id = $2", P, factor_id
    )
    return active


async def test_an_employee_removes_one_of_their_own_sign_in_methods(rig: Rig) -> None:
    zone_b = await rig.cluster.start("b")
    await two_factor_practice(rig)
    await enrol_totp(rig, (await enrol_login(rig))[1])
    piet = rig.token(PIET)
    email_id = await email_factor(rig, piet)
    status, listed = await rig.call("GET", "/v1/factors", piet)
    assert [f["kind"] for f in listed] == ["totp", "email", "recovery"], listed
    totp_id = listed[0]["factor_id"]

    # Refused, and nothing changes: a login too long ago, a certificate fallback's session,
    # another employee (the administrator) naming Piet's factor, the only authenticator app,
    # an unknown factor; a malformed id is not found.
    stale = rig.token(PIET, auth_time=utcnow() - timedelta(minutes=20))
    fallback = rig.token(PIET, aal="aal2-fallback", amr=("pwd", "x509"))
    refusals = [
        (stale, email_id, 403, "reauthentication-required"),
        (fallback, email_id, 403, "reauthentication-required"),
        (rig.admin2(), email_id, 403, "forbidden"),
        (piet, totp_id, 409, "last-strong-factor"),
        (piet, "totp.0000000000000000", 403, "forbidden"),
        (piet, "no%20such", 404, "not-found"),
    ]
    for token, factor_id, expected, problem in refusals:
        status, body = await rig.call("DELETE", f"/v1/factors/{factor_id}", token)
        assert (status, slug(body)) == (expected, problem), (factor_id, body)
    assert (await rig.call("GET", "/v1/factors", piet))[1] == listed, "nothing changed"

    status, _ = await rig.call("DELETE", f"/v1/factors/{email_id}", piet)
    assert status == 204
    status, left = await rig.call("GET", "/v1/factors", piet)
    assert [f["kind"] for f in left] == ["totp", "recovery"], left
    status, _ = await rig.call("DELETE", f"/v1/factors/{email_id}", piet)
    assert status == 204, "removed already: done"

    # Replicated: auth in both zones holds the credential inactive.
    for zone in (rig.auth, zone_b):

        async def inactive(zone: Zone = zone) -> bool:
            return await active_at(zone, email_id) is False

        await wait_for(inactive, what=f"the removal at auth {zone.settings.zone}")
    assert await active_at(zone_b, totp_id) is True, "the app stays"

    events = await rig.events(
        "enrolment.events", lambda es: any(e["type"] == "factor.removed" for e in es)
    )
    [event] = [e for e in events if e["type"] == "factor.removed"]
    assert event["data"]["factors"] == [email_id] and event["data"]["kind"] == "email"
    assert event["data"]["actor"]["user"] == PIET and event["data"]["actor"]["rights_group"] == 2
    await rig.mails(PIET_EMAIL, "Wijziging", 3)  # the app, the e-mail factor, its removal


async def test_a_new_phone_replaces_the_app_only_once_its_first_code_confirms_it(
    rig: Rig,
) -> None:
    await two_factor_practice(rig)
    old = await enrol_totp(rig, (await enrol_login(rig))[1])
    piet = rig.token(PIET)
    status, listed = await rig.call("GET", "/v1/factors", piet)
    old_id = listed[0]["factor_id"]
    assert listed[0]["kind"] == "totp" and old_id == old["factor_id"], listed

    async def open_enrolments() -> int:
        count: int = await rig.pool.fetchval(
            "SELECT count(*) FROM enrolments WHERE state IN ('sent', 'identified')"
        )
        return count

    # Refused, changing nothing: a stale session, a fallback one, someone without an app.
    stale = rig.token(PIET, auth_time=utcnow() - timedelta(minutes=20))
    fallback = rig.token(PIET, aal="aal2-fallback", amr=("pwd", "x509"))
    for token, expected, problem in (
        (stale, 403, "reauthentication-required"),
        (fallback, 403, "reauthentication-required"),
        (rig.admin2(), 409, "no-authenticator"),
    ):
        status, body = await rig.call("POST", "/v1/factors/totp", token, {})
        assert (status, slug(body)) == (expected, problem), body
    assert await open_enrolments() == 0

    status, new = await rig.call("POST", "/v1/factors/totp", piet, {})
    assert status == 200 and new["secret"] != old["secret"], new
    assert f"secret={new['secret']}" in new["otpauth_uri"] and "<svg" in new["qr_svg"]
    confirm = f"/v1/factors/totp/{new['enrolment_id']}/confirm"
    # Until the new app's first code: the old app is the one, at enrolment and at auth.
    wrong = "000000" if totp(new["secret"]) != "000000" else "111111"
    for token, code, expected, problem in (
        (piet, wrong, 422, "invalid-code"),
        (stale, totp(new["secret"]), 403, "reauthentication-required"),
        (rig.token("someone"), totp(new["secret"]), 401, "session-revoked"),
    ):
        status, body = await rig.call("POST", confirm, token, {"code": code})
        assert (status, slug(body)) == (expected, problem), body
    assert (await rig.call("GET", "/v1/factors", piet))[1] == listed, "nothing changed"

    async def old_app_works() -> bool:
        return bool(
            await rig.auth.auth.pool.fetchval("SELECT active FROM factors WHERE id = $1", old_id)
        )

    await wait_for(old_app_works, what="the old app at auth (it still works)")

    status, factor = await rig.call("POST", confirm, piet, {"code": totp(new["secret"])})
    assert status == 200 and factor["kind"] == "totp" and factor["factor_id"] != old_id, factor
    status, now_listed = await rig.call("GET", "/v1/factors", piet)
    assert [f["factor_id"] for f in now_listed] == [factor["factor_id"], listed[1]["factor_id"]]
    status, body = await rig.call("POST", confirm, piet, {"code": totp(new["secret"])})
    assert status == 404, "confirmed once"

    async def replaced_at_auth() -> bool:
        rows = await rig.auth.auth.pool.fetch(
            "SELECT id, active FROM factors WHERE employee = $1 AND kind = 'totp'", PIET
        )
        return {r["id"]: r["active"] for r in rows} == {old_id: False, factor["factor_id"]: True}

    await wait_for(replaced_at_auth, what="the new app at auth")
    events = await rig.events(
        "enrolment.events",
        lambda es: any(e["data"].get("factor_id") == factor["factor_id"] for e in es),
    )
    [enrolled] = [e for e in events if e["data"].get("factor_id") == factor["factor_id"]]
    assert enrolled["type"] == "factor.enrolled" and enrolled["data"]["replaced"] == [old_id]
    assert enrolled["data"]["actor"]["user"] == PIET


# -- the factors page (the web front end in front of auth, enrolment and the notifier) ---------


async def jan_on_the_web(site: Site) -> tuple[WebClient, Authenticator, str]:
    """Jan with an authenticator app (the wizard through the API, whose login's session token
    is returned too), then logged in on the web with a code from it: the factors page."""
    status, answer = await site.story.login(site.auth, PRACTICE, "jan", JAN_PASSWORD)
    assert status == 200 and answer["next"] == "enrol", answer
    phone, _, token = await site.story.enrol(answer, JAN)
    web = await site.web()
    assert (await log_in(web, "jan", JAN_PASSWORD)).url.path == "/login/step"
    assert (await post(web, "/login/factor", factor="totp")).url.path == "/login/step"
    assert (await post(web, "/login/verify", code=phone.code())).url.path == "/factors"
    return web, phone, str(token["token"])


def removals(page: str) -> list[str]:
    return re.findall(r'href="/factors/([^/"]+)/remove"', page)


async def text(response: ClientResponse) -> str:
    return await response.text()


async def test_the_factors_page_removes_one_method_after_a_confirmation(sites: Sites) -> None:
    site = await sites(two_factors=True)
    web, _, _ = await jan_on_the_web(site)
    page = await text(await web.get("/factors"))
    app_id, recovery_id = removals(page)  # strongest first: the app, then the recovery code
    assert 'aria-label="Herstelcode verwijderen"' in page, page

    confirm = await web.get(f"/factors/{recovery_id}/remove")
    html = await text(confirm)
    assert confirm.status == 200 and "<h1>Herstelcode verwijderen</h1>" in html, html
    done = await post(web, f"/factors/{recovery_id}/remove")
    html = await text(done)
    assert done.url.path == "/factors" and "De inlogmethode is verwijderd." in html, html
    assert removals(html) == [app_id]
    assert "is verwijderd" not in await text(await web.get("/factors")), "said once"

    # The only app: refused on the confirmation page, in Dutch; it stays.
    refused = await post(web, f"/factors/{app_id}/remove")
    html = await text(refused)
    assert refused.status == 400 and "<title>Fout: " in html, html
    assert "Dit is uw enige authenticator-app of passkey" in html, html
    assert removals(await text(await web.get("/factors"))) == [app_id]
    # Someone else's or an unknown factor: back to the list, nothing done.
    assert (await web.get("/factors/totp.0000000000000000/remove")).url.path == "/factors"


async def test_the_factors_page_replaces_the_app_with_a_new_phones(sites: Sites) -> None:
    site = await sites(two_factors=True)
    web, _, _ = await jan_on_the_web(site)
    page = await text(await web.get("/factors"))
    old_app = removals(page)[0]
    assert 'id="replace-app"' in page, page

    started = await post(web, "/factors/app")
    html = await text(started)
    secret = re.search(r'id="secret">([A-Z2-7]+)<', html)
    assert started.status == 200 and secret and 'src="data:image/svg+xml;base64,' in html, html
    enrolment = re.search(r'name="enrolment_id" value="([0-9a-f]+)"', html)
    assert enrolment, html
    new_phone = Authenticator(secret.group(1))
    code = new_phone.code()
    wrong = "000000" if code != "000000" else "111111"
    refused = await post(web, "/factors/app/confirm", enrolment_id=enrolment.group(1), code=wrong)
    html = await text(refused)
    assert refused.status == 400 and "<title>Fout: " in html, html
    assert enrolment.group(1) in html, "the same enrolment takes another code"
    assert removals(await text(await web.get("/factors")))[0] == old_app, "the old app stays"

    done = await post(web, "/factors/app/confirm", enrolment_id=enrolment.group(1), code=code)
    html = await text(done)
    assert done.url.path == "/factors" and "Uw nieuwe authenticator-app is ingesteld" in html
    assert old_app not in removals(html) and len(removals(html)) == 2, html


# -- "log out everywhere" ----------------------------------------------------------------------


async def test_an_employee_ends_every_session_of_their_own_in_both_zones(cluster: Cluster) -> None:
    a, b = await cluster.start("a"), await cluster.start("b")
    admin = await cluster.bootstrap(a)
    here = await token_of(a)
    elsewhere = await token_of(b)  # another workstation, the other zone
    response = await a.client.post("/v1/sessions/end")
    assert response.status == 401, "a token is needed"

    response = await a.client.post("/v1/sessions/end", headers=bearer(here))
    ended = await response.json()
    assert response.status == 200 and ended["employee"] == admin, ended
    status, body = await renew(a, here)
    assert status == 401 and body["type"].endswith("/session-revoked"), "this session too"

    async def ended_in_b() -> bool:
        return (await renew(b, elsewhere))[0] == 401

    await wait_for(ended_in_b, what="the end of the sessions in zone b")
    response = await a.client.post("/v1/sessions/end", headers=bearer(here))
    assert response.status == 401, "an ended session cannot end anything"
    events = await read_topic(
        cluster.broker.bootstrap,
        str(a.settings.topic("auth.events")),
        lambda es: any(e["type"] == "account.sessions_ended" for e in es),
    )
    [announced] = [e for e in events if e["type"] == "account.sessions_ended"]
    assert announced["data"]["actor"]["user"] == admin and announced["subject"] == admin
    assert (await login(a, PRACTICE, "admin", ADMIN_PASSWORD))[0] == 200, "a new login works"


async def token_of(zone: Zone) -> str:
    status, body = await login(zone, PRACTICE, "admin", ADMIN_PASSWORD)
    assert status == 200, body
    return str(body["token"]["token"])


async def test_log_out_everywhere_on_the_factors_page(sites: Sites) -> None:
    site = await sites(two_factors=True)
    web, _, other = await jan_on_the_web(site)
    page = await text(await web.get("/factors"))
    assert 'id="log-out-everywhere"' in page and "Overal uitloggen" in page, page

    done = await post(web, "/factors/sessions/end")
    assert done.url.path == "/login", await done.text()
    assert "token" not in session_of(web), "the browser's session is over"
    assert (await web.get("/factors")).url.path == "/login"
    status, body = await renew(site.auth, other)
    assert status == 401 and body["type"].endswith("/session-revoked"), "every other one too"
