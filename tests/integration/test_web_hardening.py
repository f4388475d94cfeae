"""Hardening II (issue 21) findings 8, 9 and 11 through the real web front end: the web app
(``services.web.app.create_app``) on a test server in front of auth, enrolment and the notifier
(real PostgreSQL, the real broker, a real SMTP server), driven over HTTP as a browser would. The
sealed session cookie is opened with the web's session key to see what it holds."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import jwt

from services.web import session as sessions
from shared.assurance import LOA
from shared.events import utcnow
from shared.tokens import TWO_FACTOR_AAL
from shared.topics import AUTH_EVENTS
from tests.support.bodies import bad_bodies
from tests.support.bus import read_events
from tests.support.cluster import ADMIN_PASSWORD
from tests.support.site import KEY, Site, Sites, WebClient, log_in, post, session_of
from tests.support.story import (
    JAN,
    JAN_PASSWORD,
    Authenticator,
)

#: What a login leaves in the session for the steps after it; a new login starts without any.
LOGIN_STATE = ("wizard", "enrolment_token", "login", "token", "recovery_code")
JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")


def strings_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {s for item in value.values() for s in strings_in(item)}
    if isinstance(value, list):
        return {s for item in value for s in strings_in(item)}
    return {value} if isinstance(value, str) else set()


def secret_on(page: str) -> str:
    match = re.search(r'id="secret" data-value="([A-Z2-7]+)"', page)
    assert match, page
    return match.group(1)


# -- finding 8: the wizard's secret and token do not outlive their login ------------------------


async def test_the_wizard_secret_is_shown_once_and_a_new_login_drops_the_wizard(
    sites: Sites,
) -> None:
    site = await sites(two_factors=True)
    web = await site.web()
    story = site.story
    enrol = await log_in(web, "jan", JAN_PASSWORD)
    assert enrol.status == 200 and 'href="/wizard"' in await enrol.text()
    # A link from another site (the cookie is SameSite=Lax) sends no code: the way in again.
    followed = await web.get("/wizard", headers={"Sec-Fetch-Site": "cross-site"})
    assert followed.status == 200 and 'href="/wizard"' in await followed.text()
    identity = await web.get("/wizard")
    assert identity.status == 200 and 'href="/wizard"' not in await identity.text()
    code = await story.activation_code(JAN["email"], 1)
    person = {"activation_code": code, "birth_date": JAN["birth_date"], "bsn": JAN["bsn"]}
    qr_page = await post(web, "/wizard/identity", **person)
    assert qr_page.status == 200
    secret = secret_on(await qr_page.text())
    during = session_of(web)
    tokens = {s for s in strings_in(during) if JWT.match(s)}
    assert tokens, "the wizard holds the login's enrolment token"
    assert secret not in strings_in(during), "the TOTP secret rests in the cookie"

    # A wrong first code: still the QR step, so the error beside the same QR (from
    # enrolment, for this login's wizard: still not in the cookie), and a way to start again.
    phone = Authenticator(secret)
    wrong = f"{(int(phone.code()) + 1) % 1_000_000:06d}"
    refused = await post(web, "/wizard/confirm", code=wrong)
    page = await refused.text()
    assert refused.status == 400
    assert secret_on(page) == secret and "data:image/svg+xml" in page, "the QR kept"
    assert 'action="/wizard/confirm"' in page and 'href="/wizard"' in page
    assert secret not in strings_in(session_of(web)), "the TOTP secret rests in the cookie"

    # Starting again re-runs the identity step: the same secret, for the same person only.
    assert (await web.get("/wizard")).status == 200
    again = await post(web, "/wizard/identity", **person)
    assert again.status == 200 and secret_on(await again.text()) == secret
    assert len(story.activation_mails(JAN["email"])) == 1, "no new enrolment was started"

    # Jan walks away; the next person at the workstation starts a login of their own.
    other = await log_in(web, "admin", "not-the-password")
    assert other.status == 400
    after = session_of(web)
    assert not set(LOGIN_STATE) & set(after), after.keys()
    assert not (tokens | {secret}) & strings_in(after), "the previous login's secrets remain"
    gone = await web.get("/wizard", allow_redirects=False)
    assert gone.status == 303 and gone.headers["Location"] == "/login"

    # Jan's next login enrols anew (a new activation code) and finishes: nothing is left.
    assert (await log_in(web, "jan", JAN_PASSWORD)).status == 200
    assert (await web.get("/wizard")).status == 200
    person["activation_code"] = await story.activation_code(JAN["email"], 2)
    qr_page = await post(web, "/wizard/identity", **person)
    new_secret = secret_on(await qr_page.text())
    assert new_secret != secret, "a new enrolment has a new secret"
    done = await post(web, "/wizard/confirm", code=Authenticator(new_secret).code())
    assert done.status == 200 and 'id="recovery-code"' in await done.text()
    finished = session_of(web)
    assert not set(LOGIN_STATE) & set(finished), finished.keys()
    assert not any(JWT.match(s) for s in strings_in(finished))


async def test_a_new_login_ends_the_session_it_replaces(sites: Sites) -> None:
    site = await sites(two_factors=False)
    web = await site.web()
    assert (await log_in(web, "admin", ADMIN_PASSWORD)).url.path == "/factors"
    token = session_of(web)["token"]["token"]
    assert (await log_in(web, "jan", "not-the-password")).status == 400
    assert "token" not in session_of(web)
    renewed = await site.auth.client.post(
        "/v1/tokens/renew", headers={"Authorization": f"Bearer {token}"}
    )
    assert renewed.status == 401, "the replaced session still lives at auth"


# -- finding 9: the browser's address, not the web's, behind the trusted proxy -----------------


async def test_each_browser_behind_the_trusted_proxy_has_its_own_budget_and_address(
    sites: Sites,
) -> None:
    site = await sites(two_factors=False, login_rate_attempts=2, login_rate_window_seconds=60)
    behind_proxy = await site.web(trusted_proxies=["127.0.0.0/8", "::1/128"])
    first = [
        (
            await log_in(behind_proxy, f"ghost-a{i}", "wrong", **{"X-Forwarded-For": "192.0.2.1"})
        ).status
        for i in range(3)
    ]
    assert first == [400, 400, 429], f"one browser, budget 2: {first}"
    second = await log_in(behind_proxy, "ghost-b", "wrong", **{"X-Forwarded-For": "192.0.2.2"})
    assert second.status == 400, "another browser has a budget of its own"

    # A web that trusts no proxy believes no X-Forwarded-For: its peer is the client.
    direct = await site.web()
    spoofed = await log_in(direct, "ghost-c", "wrong", **{"X-Forwarded-For": "198.51.100.7"})
    assert spoofed.status == 400

    events = await read_events(
        site.story.cluster.broker,
        site.auth.settings.topic(AUTH_EVENTS.name),
        lambda es: (
            {"ghost-a1", "ghost-b", "ghost-c"}
            <= {e["data"].get("username") for e in es if e["type"] == "login.failed"}
        ),
    )
    addresses = {
        e["data"]["username"]: e["data"]["actor"]["address"]
        for e in events
        if e["type"] == "login.failed"
    }
    assert addresses["ghost-a1"] == "192.0.2.1", addresses
    assert addresses["ghost-b"] == "192.0.2.2", addresses
    assert addresses["ghost-c"] == "127.0.0.1", addresses


# -- finding 11: the web's JSON bodies are bounded like the services' ---------------------------

#: Every web endpoint that reads a JSON body: (path, a valid-looking body, the field to spoil).
JSON_ENDPOINTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "/login/passkey",
        {"credential": {"id": "x", "rawId": "x", "type": "public-key"}},
        "credential",
    ),
    (
        "/factors/passkey",
        {
            "registration_id": "r1",
            "credential": {"id": "x", "type": "public-key"},
            "name": "Laptop",
        },
        "name",
    ),
]


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def two_factor(site: Site, web: WebClient) -> None:
    """The web's password-only session of the administrator made a two-factor one (the claims
    auth issues after a second factor, signed with auth's key), as a passkey page needs."""
    held = session_of(web)
    claims = jwt.decode(held["token"]["token"], options={"verify_signature": False})
    claims.update(
        amr=["pwd", "otp"], aal=TWO_FACTOR_AAL, acr=LOA["substantial"], jti=uuid.uuid4().hex
    )
    held["token"]["token"] = site.auth.auth.signer.sign(claims, utcnow())
    sealed = sessions.seal(KEY, held)
    web.session.cookie_jar.update_cookies({sessions.COOKIE: sealed}, web.make_url("/"))


async def test_bad_json_bodies_to_the_web_are_4xx_and_change_nothing(sites: Sites) -> None:
    site = await sites(two_factors=False)
    web = await site.web()
    assert (await log_in(web, "admin", ADMIN_PASSWORD)).url.path == "/factors"
    two_factor(site, web)
    before = await (await web.get("/factors")).text()
    csrf = session_of(web)["csrf"]
    wrong: list[str] = []
    for path, body, spoiled in JSON_ENDPOINTS:
        cases = bad_bodies(body, spoiled)
        # Deep, but not too deep to parse: the web must not fail passing it on.
        deep = {**body, "credential": {**body["credential"], "response": nested(900)}}
        cases["900-deep nesting inside"] = (json.dumps(deep).encode(), "application/json", False)
        for name, (raw, content_type, _) in cases.items():
            answer = await web.post(
                path,
                data=raw,
                headers={"Content-Type": content_type, "X-CSRF-Token": csrf},
                allow_redirects=False,
            )
            text = await answer.text()
            if not 400 <= answer.status < 500:
                wrong.append(f"{path} {name}: {answer.status} {text[:200]}")
            elif "x" * 1000 in text or "\ud800" in text:
                wrong.append(f"{path} {name}: the value echoed")
    assert not wrong, f"{len(wrong)} bad answers:\n" + "\n".join(wrong)
    after = await web.get("/factors")
    assert after.status == 200 and session_of(web).get("token"), "still logged in"
    token = session_of(web)["token"]["token"]
    listed = await site.story.enrolment.client.get(
        "/v1/factors", headers={"Authorization": f"Bearer {token}"}
    )
    factors = await listed.json()
    assert listed.status == 200 and not [f for f in factors if f["kind"] == "passkey"], factors
    assert re.sub(r'value="[^"]+"', "", before) == re.sub(r'value="[^"]+"', "", await after.text())
