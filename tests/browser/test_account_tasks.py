"""Every account task of issue 25 in a real browser (Chromium, headless), through the web front
end in front of zone a, with zone b's auth beside it: what replicates is checked in zone b (a
login there, once its tables show the change arrived: a login before would count by itself).

The administrator (two factors, as the audit trail needs) locks nobody out for long: Jan's
wrong passwords lock him, she unlocks him (zone b lets him log in), ends his sessions (his
token stops renewing in zone b), removes one of his sign-in methods (zone b offers the other
only), resends Piet's activation code (a second mail arrives) and resets Jan's password (zone
b asks him for a new one) — each on its confirmation page — and the audit trail names her.

The employee sees where and since when he is logged in; the console's account tasks are
refused to him (403) and removing his only app is refused in Dutch, each changing nothing; he
replaces the app with a new phone's after a fresh login, adds a passkey (Chromium's virtual
authenticator), renames it, logs in with it (its "last used" shown), removes it, makes a new
recovery code after a confirmation, and logs out everywhere (his other session stops working
in zone b)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from services.dev.infra import free_port
from tests.support.browser import Browser, passkey_authenticator, serve_web
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.mail import SmtpSink
from tests.support.practices import FAST
from tests.support.story import (
    ADMIN_DATA,
    JAN,
    JAN_PASSWORD,
    PRACTICE,
    PRACTICE_EMAIL,
    Authenticator,
    Story,
)
from tests.support.tokens import bearer, renew

PIET: dict[str, Any] = {
    **JAN,
    "username": "piet",
    "name": "Piet Bakker",
    "email": "piet@fysio-jansen.nl",
    "bsn": "234567806",
}
#: Three wrong passwords lock an account for ten minutes.
POLICY = {"min_strength": 60, "max_attempts": 3, "lockout_seconds": 600}
#: The administrator as the audit trail names her.
ANNA = "Anna Jansen (Rechtengroep 1)"
DATE = r"\d\d-\d\d-\d{4} \d\d:\d\d"
#: A request from the page (its cookies): the answer's status (0 for a redirect).
FETCH = """
const done = arguments[arguments.length - 1], form = arguments[1];
const init = form ? {method: 'POST', body: new URLSearchParams(form)} : {};
fetch(arguments[0], {...init, redirect: 'manual'}).then(r => done(r.status), e => done(String(e)));
"""


@dataclass
class Desk:
    """The browser in front of zone a; zone b's auth; the practice as the API made it."""

    b: Browser
    story: Story
    zone_b: Zone
    admin_id: str

    async def enrolled(
        self, person: dict[str, Any], password: str
    ) -> tuple[Authenticator, str, str]:
        """``person`` through the wizard by API (zone a): their app, recovery code and token."""
        status, answer = await self.story.login(
            self.story.auth, PRACTICE, person["username"], password
        )
        assert status == 200, answer
        phone, recovery, token = await self.story.enrol(answer, person)
        return phone, recovery, str(token["token"])

    async def login_in_b(self, username: str, password: str) -> tuple[int, dict[str, Any]]:
        return await self.story.login(self.zone_b, PRACTICE, username, password)

    async def until_in_b(self, what: str, sql: str) -> None:
        """Until zone b's auth answers ``sql`` (about Jan) true: what a login there is then
        checked against (a login before would count as an attempt of its own)."""

        async def true() -> bool:
            found = await self.zone_b.auth.pool.fetchval(sql, PRACTICE, "jan01")
            return bool(found)

        await wait_for(true, what=f"{what} in zone b")


@pytest.fixture
async def desk(cluster: Cluster, smtp_sink: SmtpSink, driver: WebDriver) -> AsyncIterator[Desk]:
    port = free_port()
    origin = f"http://localhost:{port}"
    a = await cluster.start("a", webauthn_origins=[origin], **FAST)
    zone_b = await cluster.start("b", **FAST)
    enrolment = await cluster.start("a", "enrolment", webauthn_origins=[origin])
    await cluster.start("a", "notifier", smtp_port=smtp_sink.port)
    story = Story(cluster, a, enrolment, smtp_sink)
    admin_id = await cluster.bootstrap(a, PRACTICE)
    _, answer = await story.login(a, PRACTICE, "admin", ADMIN_PASSWORD)
    admin = answer["token"]["token"]
    await story.practice_known(admin)
    path = f"/v1/practices/{PRACTICE}"
    status, body = await story.call(enrolment, "PUT", path, admin, email=PRACTICE_EMAIL)
    assert status == 200, body
    for employee, person in ((admin_id, ADMIN_DATA), ("jan01", JAN), ("piet01", PIET)):
        status, body = await story.call(
            enrolment, "PUT", f"{path}/employees/{employee}", admin, **person
        )
        assert status == 200, body
    for employee in ("jan01", "piet01"):
        for zone in (a, zone_b):
            await known(zone, employee)
        status, body = await story.call(
            a,
            "PUT",
            f"{path}/employees/{employee}/password",
            admin,
            password=JAN_PASSWORD,
            temporary=False,
        )
        assert status == 200, body
    status, body = await story.call(
        enrolment,
        "PUT",
        path,
        admin,
        two_factor_required=True,
        confirm_incomplete=True,
        password_policy=POLICY,
    )
    assert status == 200, body

    async def strict_in_both() -> bool:
        sql = "SELECT two_factor_required AND policy->>'max_attempts' = '3' FROM practices"
        return all([await z.auth.pool.fetchval(sql) for z in (a, zone_b)])

    await wait_for(strict_in_both, what="two factors and the lockout policy in both zones")
    urls = {
        "auth": str(a.client.make_url("")).rstrip("/"),
        "enrolment": str(enrolment.client.make_url("")).rstrip("/"),
    }
    async for url in serve_web([urls], port):
        driver.delete_all_cookies()
        driver.set_window_size(1200, 1100)
        yield Desk(Browser(driver, url), story, zone_b, admin_id)


async def known(zone: Zone, employee: str) -> None:
    """Until ``zone``'s auth knows ``employee`` (from enrolment's directory)."""

    async def present() -> bool:
        sql = "SELECT 1 FROM employees WHERE practice = $1 AND id = $2"
        return bool(await zone.auth.pool.fetchval(sql, PRACTICE, employee))

    await wait_for(present, what=f"{employee} at auth {zone.settings.zone}")


async def log_in(b: Browser, username: str, password: str) -> None:
    await b.open("/login")
    await b.fill(practice=PRACTICE, username=username, password=password)
    await b.submit()


async def second_step(b: Browser, factor: str, code: str) -> None:
    await b.click(f"#factor-{factor}")
    await b.fill(code=code)
    await b.submit()
    await b.find("header .logout button")


async def log_out(b: Browser) -> None:
    await b.click("header .logout button")
    await b.find("#practice")


async def status_of(b: Browser, path: str, **form: str) -> int:
    """The status the front end answers the browser's request (a POST with ``form`` and the
    page's CSRF secret)."""
    if form:
        csrf = (await b.find("input[name=csrf]")).get_attribute("value")
        form = {**form, "csrf": str(csrf)}
    found = await b.run(b.driver.execute_async_script, FETCH, b.url + path, form or None)
    return int(found)


async def absent(b: Browser, css: str) -> bool:
    """Whether the page has nothing at ``css`` (at once: finding waits for it to appear)."""
    script = "return document.querySelector(arguments[0]) === null"
    return bool(await b.run(b.driver.execute_script, script, css))


async def until_shown(b: Browser, path: str, needle: str, css: str = "main") -> str:
    """``path`` reloaded until ``css`` shows ``needle`` (what another service records on its
    own time: the audit trail, a login's "last used")."""

    async def shown() -> str:
        await b.open(path)
        found = await b.text(css)
        return found if needle in found else ""

    return await wait_for(shown, timeout=20.0, interval=0.3, what=f"{needle!r} on {path}")


async def confirm_task(b: Browser, link: str, button: str, done: str) -> str:
    """A task from Jan's console page: its link, its confirmation page, the page saying done."""
    await b.open("/console/employees/jan01")
    await b.click(link)
    await b.wait_text("Jan de Vries", "h1")
    assert "/console/employees/jan01/" in str(await b.run(lambda: b.driver.current_url))
    await b.click(button)
    return await b.wait_text(done, "h1")


async def audit_rows(b: Browser) -> list[tuple[str, str, str]]:
    """The audit trail's rows as (action, actor, object)."""
    rows = await b.run(
        b.driver.execute_script,
        """return [...document.querySelectorAll('table.audit tbody tr')].map(r =>
             [r.querySelector('td.action').dataset.action, r.cells[3].innerText,
              r.cells[4].innerText]);""",
    )
    return [(str(a), str(actor), str(o)) for a, actor, o in rows]


async def test_the_administrator_does_every_account_task_in_the_browser(desk: Desk) -> None:
    b, story, zone_b = desk.b, desk.story, desk.zone_b
    admin_phone, _, admin = await desk.enrolled(ADMIN_DATA, ADMIN_PASSWORD)
    _, _, jan_token = await desk.enrolled(JAN, JAN_PASSWORD)
    # Piet has started the wizard: his activation code is waiting.
    status, answer = await story.login(story.auth, PRACTICE, "piet", JAN_PASSWORD)
    assert status == 200 and answer["next"] == "enrol", answer
    status, started = await story.call(
        story.enrolment, "POST", "/v1/enrolment", answer["enrolment_token"]
    )
    assert status == 200, started
    first_code = await story.activation_code(PIET["email"], 1)

    # Jan's three wrong passwords lock him; the fourth try tells him until when.
    for _ in range(3):
        await log_in(b, "jan", "wrong-password")
        await b.wait_text("klopt niet", "#error-summary")
    await log_in(b, "jan", JAN_PASSWORD)
    await b.wait_text("Probeer het opnieuw om", "#error-summary")

    async def locked_in_b() -> bool:
        path = f"/v1/practices/{PRACTICE}/accounts"
        status, body = await story.call(zone_b, "GET", path, admin)
        assert status == 200, body
        return any(a["employee"] == "jan01" and a["status"] == "locked" for a in body["accounts"])

    await wait_for(locked_in_b, what="Jan locked in zone b")
    status, body = await desk.login_in_b("jan", JAN_PASSWORD)
    assert status == 429 and str(body["type"]).endswith("/account-locked"), body

    await log_in(b, "admin", ADMIN_PASSWORD)
    await second_step(b, "totp", admin_phone.code())
    await b.open("/console/employees/jan01")
    assert "Geblokkeerd tot" in await b.text("#account-status")

    # Unlock: zone b lets Jan log in again (his second step next).
    await confirm_task(b, "#unlock", "#confirm-unlock", "gedeblokkeerd")

    async def open_in_b() -> bool:
        return not await locked_in_b()

    await wait_for(open_in_b, what="the unlock in zone b")
    status, body = await desk.login_in_b("jan", JAN_PASSWORD)
    assert status == 200 and body["next"] == "second_factor", body
    await b.open("/console/employees/jan01")
    assert (await b.text("#account-status")).startswith("Actief"), "the page shows it too"

    # End all sessions: Jan's token (from zone a's login) stops renewing in zone b.
    await confirm_task(b, "#end-sessions", "#confirm-sessions", "beëindigd")

    async def ended_in_b() -> bool:
        return (await renew(zone_b, jan_token))[0] == 401

    await wait_for(ended_in_b, what="Jan's session ended in zone b")

    # Remove one sign-in method: his recovery code; the app stays, zone b offers only it.
    await b.open("/console/employees/jan01")
    methods = await b.run(b.driver.find_elements, By.CSS_SELECTOR, "#factors li")
    assert len(methods) == 2, "the app and the recovery code"
    await b.click("#factors li:last-child a")
    await b.wait_text("Herstelcode van Jan de Vries verwijderen", "h1")
    await b.click("#confirm-remove")
    await b.wait_text("verwijderd", "h1")
    await b.open("/console/employees/jan01")
    left = await b.text("#factors")
    assert "authenticator-app" in left.lower() and "Herstelcode" not in left, left

    await desk.until_in_b(
        "the removal",
        """SELECT NOT bool_or(active) FROM factors
           WHERE practice = $1 AND employee = $2 AND kind = 'recovery'""",
    )
    status, body = await desk.login_in_b("jan", JAN_PASSWORD)
    assert status == 200 and body["factors"] == ["totp"], body

    # Resend Piet's activation code: a second mail with another code arrives.
    await b.open("/console/employees/piet01")
    await b.click("#resend-activation")
    await b.wait_text("Piet Bakker", "h1")
    await b.click("#confirm-activation")
    await b.wait_text("Piet Bakker", "h1")
    assert await story.activation_code(PIET["email"], 2) != first_code

    # Reset the password: shown once; zone b asks Jan for a new one at his next login.
    done = await confirm_task(b, "#reset-password", "#confirm-password", "Jan de Vries")
    temporary = await b.text("#temporary-password")
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", temporary), (done, temporary)

    await desk.until_in_b(
        "the reset",
        "SELECT must_change FROM credentials WHERE practice = $1 AND employee = $2",
    )
    status, body = await desk.login_in_b("jan", temporary)
    assert status == 200 and body["next"] == "change_password", body

    # The audit trail names who did each task, and to whom (auth's tasks reach it by the bus).
    tasks = {
        ("account.unlocked", "Jan de Vries"),
        ("account.sessions_ended", "Jan de Vries"),
        ("factor.removed", "Jan de Vries"),
        ("enrolment.code_resent", "Piet Bakker"),
        ("password.reset", "Jan de Vries"),
    }
    rows: list[tuple[str, str, str]] = []

    async def all_audited() -> bool:
        nonlocal rows
        await b.open("/console/audit")
        rows = await audit_rows(b)
        by_her = [(a, o) for a, actor, o in rows if actor.startswith(ANNA)]
        return all(any(a == action and whom in o for a, o in by_her) for action, whom in tasks)

    try:
        await wait_for(all_audited, timeout=20.0, interval=0.5)
    except AssertionError:
        raise AssertionError(f"not every task in the audit trail as hers: {rows}") from None


async def test_an_employee_manages_their_own_account_in_the_browser(desk: Desk) -> None:
    b, story, zone_b = desk.b, desk.story, desk.zone_b
    phone, recovery, other = await desk.enrolled(JAN, JAN_PASSWORD)

    # A fresh login with the recovery code (the phone is lost): the new code is shown at once.
    await log_in(b, "jan", JAN_PASSWORD)
    await second_step(b, "recovery", recovery)
    await b.wait_text("Uw herstelcode", "#recovery-title")
    assert await b.text("#recovery-code") not in ("", recovery)

    # Where and since when: this session and the wizard's.
    sessions = await b.run(b.driver.find_elements, By.CSS_SELECTOR, "#live-sessions li")
    texts = [await b.run(lambda e=e: e.text) for e in sessions]
    assert len(texts) == 2 and all(re.match(f"Sinds {DATE} vanaf ", t) for t in texts), texts
    assert sum("deze sessie" in t for t in texts) == 1, texts

    # The console's account tasks are not his (403), and nothing is done.
    await b.open(f"/console/employees/{desk.admin_id}/account/sessions")
    await b.wait_text("rechtengroep 1", "p.refused")
    assert await status_of(b, f"/console/employees/{desk.admin_id}/account/sessions") == 403
    assert await status_of(b, "/console/employees/jan01/account/sessions", go="1") == 403
    response = await story.auth.client.get("/v1/sessions", headers=bearer(other))
    assert response.status == 200, "his other session still works"

    # His only app: removal refused, in Dutch, and it stays.
    await b.open("/factors")
    app_link = (await b.find("tr.factor[data-kind=totp] a.remove")).get_attribute("href")
    await b.click("tr.factor[data-kind=totp] a.remove")
    await b.click("#confirm-remove")
    refused = await b.wait_text("enige authenticator-app of passkey", "main")
    assert str(await b.run(lambda: b.driver.title)).startswith("Fout: "), refused
    await b.open("/factors")
    assert (await b.find("tr.factor[data-kind=totp] a.remove")).get_attribute("href") == app_link

    # A new phone: its QR code, then its first code; the old app stops (zone b too).
    old_id = str(app_link).rsplit("/", 2)[-2]
    await b.click("#replace-app")
    await b.find("img.qr")
    new_phone = Authenticator(re.sub(r"\s", "", await b.text("#secret")), set(phone.used))
    await b.fill(code=new_phone.code())
    await b.click("#confirm-app")
    await b.wait_text("nieuwe authenticator-app is ingesteld", "#notice")

    async def replaced_in_b() -> bool:
        old, active = await zone_b.auth.pool.fetchrow(
            """SELECT bool_or(active) FILTER (WHERE id = $1), count(*) FILTER (WHERE active)
               FROM factors WHERE employee = 'jan01' AND kind = 'totp'""",
            old_id,
        )
        return old is False and active == 1

    await wait_for(replaced_in_b, what="the new app in zone b")

    # A passkey, renamed, used to log in: its "last used" shown; then removed, the rest stay.
    await b.run(b.driver.add_virtual_authenticator, passkey_authenticator())
    try:
        await b.fill(passkey_name="Laptop")
        await b.click("#passkey-add")
        row = await b.wait_text("Laptop", "tr.factor[data-kind=passkey]")
        assert "Niet bekend" in row, row
        await b.click("tr.factor[data-kind=passkey] a.rename")
        await b.wait_text("Naam van de passkey wijzigen", "h1")
        await b.fill(name="Laptop balie")
        await b.click("#save-name")
        await b.wait_text("De naam is gewijzigd", "#notice")
        await log_out(b)
        await log_in(b, "jan", JAN_PASSWORD)
        await b.click("#factor-passkey")
        await b.click("#passkey-login")
        await b.find("header .logout button")
        row = await until_shown(b, "/factors", "Laptop balie", "tr.factor[data-kind=passkey]")
        used = await until_shown(b, "/factors", "-", "tr.factor[data-kind=passkey] td.last-used")
        assert re.fullmatch(DATE, used), (row, used)
    finally:
        await b.run(b.driver.remove_virtual_authenticator)
    await b.click("tr.factor[data-kind=passkey] a.remove")
    await b.wait_text("verwijderen", "h1")
    await b.click("#confirm-remove")
    await b.wait_text("De inlogmethode is verwijderd.", "#notice")
    listed = await b.run(b.driver.find_elements, By.CSS_SELECTOR, "tr.factor")
    assert [e.get_attribute("data-kind") for e in listed] == ["totp", "recovery"]
    await desk.until_in_b(
        "the passkey's removal",
        """SELECT NOT bool_or(active) FROM factors
           WHERE practice = $1 AND employee = $2 AND kind = 'passkey'""",
    )

    # A new recovery code only after a confirmation; shown with a heading.
    assert await absent(b, "#recovery-code")
    await b.click("#new-recovery")
    await b.wait_text("herstelcode", "h1")
    assert await absent(b, "#recovery-code")
    await b.click("#confirm-recovery")
    await b.wait_text("Uw herstelcode", "#recovery-title")
    assert len(await b.text("#recovery-code")) >= 8

    # Log out everywhere: the browser is at the login page; his other session ends in zone b.
    await b.click("#log-out-everywhere")
    await b.find("#practice")

    async def ended_in_b() -> bool:
        return (await renew(zone_b, other))[0] == 401

    await wait_for(ended_in_b, what="his other session ended in zone b")
    await b.open("/factors")
    await b.find("#practice")
