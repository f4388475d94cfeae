"""The issue's story through a real browser (Chromium, headless): the administrator's part
through the API (the console pages come separately), then Jan in the browser — a weak password
refused with the policy's reason and replaced, the wizard (a wrong activation code refused, the
QR code, a first code from oathtool, the recovery code shown once), a login with the app, a
replayed code refused, a form posted without its CSRF token refused, a passkey added and used
with Chromium's virtual authenticator, logout."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import aiohttp
import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from services.dev.infra import free_port
from tests.support.browser import Browser, passkey_authenticator, serve_web
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.mail import SmtpSink, text_of
from tests.support.story import (
    JAN,
    JAN_PASSWORD,
    PRACTICE,
    PRACTICE_EMAIL,
    WEAK_PASSWORD,
    Authenticator,
    Story,
    jan_at_auth,
)


async def practice_with_jan(cluster: Cluster, story: Story, auth: Zone) -> None:
    """The administrator's part, by API: practice e-mail, Jan with a weak password, two
    factors on at strength 60."""
    _, answer = await story.login(auth, PRACTICE, "admin", ADMIN_PASSWORD)
    admin = answer["token"]["token"]

    await story.practice_known(admin)
    path = f"/v1/practices/{PRACTICE}"
    status, body = await story.call(story.enrolment, "PUT", path, admin, email=PRACTICE_EMAIL)
    assert status == 200, body
    status, body = await story.call(story.enrolment, "PUT", f"{path}/employees/jan01", admin, **JAN)
    assert status == 200, body

    await jan_at_auth(auth)
    status, body = await story.call(
        auth,
        "PUT",
        f"{path}/employees/jan01/password",
        admin,
        password=WEAK_PASSWORD,
        temporary=False,
    )
    assert status == 200, body
    await story.require_two_factors(admin)


@pytest.fixture
async def web_story(
    cluster: Cluster, smtp_sink: SmtpSink, driver: WebDriver
) -> AsyncIterator[tuple[Browser, Story]]:
    port = free_port()
    origin = f"http://localhost:{port}"
    auth = await cluster.start("a", webauthn_origins=[origin])
    enrolment = await cluster.start("a", "enrolment", webauthn_origins=[origin])
    await cluster.start("a", "notifier", smtp_port=smtp_sink.port)
    story = Story(cluster, auth, enrolment, smtp_sink)
    await cluster.bootstrap(auth, PRACTICE)
    await practice_with_jan(cluster, story, auth)
    zone = {
        "auth": str(auth.client.make_url("")).rstrip("/"),
        "enrolment": str(enrolment.client.make_url("")).rstrip("/"),
    }
    async for url in serve_web([zone], port):
        driver.delete_all_cookies()
        yield Browser(driver, url), story


async def log_in(b: Browser, password: str) -> None:
    await b.open("/login")
    await b.fill(practice=PRACTICE, username="jan", password=password)
    await b.submit()


async def test_employee_story_in_the_browser(web_story: tuple[Browser, Story]) -> None:
    b, story = web_story
    await b.open("/login")
    assert (await b.find("html")).get_attribute("lang") == "nl"
    await b.shot("login")

    # Keyboard only: Tab past the language switch to the fields, Enter sends. A wrong password
    # is refused; the error summary takes the focus, the inputs point at it.
    await b.keys(Keys.TAB * 3, PRACTICE, Keys.TAB, "jan", Keys.TAB, "wrong-password", Keys.ENTER)
    await b.wait_text("klopt niet", "#error-summary")
    assert (await b.find("#password")).get_attribute("aria-invalid") == "true"
    assert (await b.find("#password")).get_attribute("aria-describedby") == "error-text"
    focused = await b.run(lambda: b.driver.switch_to.active_element.get_attribute("id"))
    assert focused == "error-summary"
    await b.shot("login-refused")

    # The weak password must be replaced; a weak new one is refused with the policy's reason.
    await log_in(b, WEAK_PASSWORD)
    await b.wait_text("nieuw wachtwoord")
    await b.shot("change-password")
    await b.fill(new_password="zomer")
    await b.submit()
    await b.wait_text("zwak", "#error-summary")
    await b.fill(new_password=JAN_PASSWORD)
    await b.submit()
    await b.wait_text("eerst de tweestapsverificatie")
    await b.click("main a.button")

    # The wizard: a wrong activation code is refused; the right one shows the QR code.
    await b.wait_text(JAN["email"][:1])
    await b.shot("wizard-identity")
    await b.fill(activation_code="WRONGCODE1", bsn=JAN["bsn"])
    await b.date("birth_date", JAN["birth_date"])
    await b.submit()
    await b.wait_text("activeringscode, geboortedatum of BSN klopt niet", "#error-summary")
    code = await story.activation_code(JAN["email"], 1)
    await b.fill(activation_code=code, bsn=JAN["bsn"])
    await b.date("birth_date", JAN["birth_date"])
    await b.submit()
    await b.wait_text("QR")
    qr = await b.find("img.qr")
    assert str(qr.get_attribute("src")).startswith("data:image/svg+xml;base64,")
    await b.shot("wizard-qr")
    phone = Authenticator((await b.text("#secret")).replace(" ", ""))  # shown in fours
    await b.fill(code=phone.code())
    await b.submit()
    recovery = await b.text("#recovery-code")
    assert len(recovery) >= 8
    await b.shot("wizard-recovery")
    # Downloadable as a text file, copied with an announcement; going on needs "stored".
    download = await b.find("#download-recovery")
    assert unquote(str(download.get_attribute("href"))).endswith(recovery + "\n")
    await b.click("#copy-recovery")
    await b.wait_text("gekopieerd", "#recovery-announce")
    await b.click("#recovery-done")
    stored = "return document.getElementById('recovery-stored').validity.valueMissing"
    assert await b.run(b.driver.execute_script, stored), "not yet: the box is required"
    assert await b.text("#recovery-code") == recovery, "still on the page"
    await b.click("#recovery-stored")
    await b.click("#recovery-done")

    # A login with the app.
    await log_in(b, JAN_PASSWORD)
    await b.wait_text("Code uit de authenticator-app")
    await b.shot("choose-factor")
    await b.click("#factor-totp")
    await b.fill(code=phone.code())
    await b.submit()
    await b.wait_text("Mijn inlogmethoden")
    await b.shot("factors")

    # An e-mail factor (the directory's address), confirmed with the code it was sent.
    before = len(story.sink.inbox.to(JAN["email"]))
    await b.click("form[action='/factors/email'] button")
    await b.wait_text("Er is een code verstuurd naar")

    async def mailed_code() -> str:
        for mail in story.sink.inbox.to(JAN["email"])[before:]:
            found = re.search(r"\b(\d{6})\b", text_of(mail))
            if found:
                return found.group(1)
        return ""

    await b.fill(code=await wait_for(mailed_code))
    await b.submit("form[action='/factors/confirm'] button")
    await b.wait_text("Code per e-mail", "table")

    # A form posted without its CSRF token: refused with a clear page, nothing done.
    await b.run(
        b.driver.execute_script,
        "document.querySelector('form[action=\"/factors/recovery\"] input[name=csrf]').remove()",
    )
    await b.click("#new-recovery")
    await b.wait_text("beveiligingskenmerk ontbreekt")
    await b.shot("csrf-refused")
    # ... and a raw POST with the session cookie but no token, too.
    cookies = {c["name"]: c["value"] for c in b.driver.get_cookies()}
    async with (
        aiohttp.ClientSession(cookies=cookies) as raw,
        raw.post(f"{b.url}/factors/recovery", data={}) as answer,
    ):
        assert answer.status == 403
        assert "beveiligingskenmerk" in await answer.text()
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]

    # Logout, then the same code again is refused as replayed; English on request.
    await b.open("/factors")
    await b.click("header .logout button")
    await b.wait_text("Inloggen")
    await b.click("header button[value=en]")
    await b.wait_text("Log in")
    last = max(phone.used)
    await log_in(b, JAN_PASSWORD)
    await b.click("#factor-totp")
    await b.fill(code=phone.code(reuse=last))
    await b.submit()
    await b.wait_text("used already", "#error-summary")
    await b.shot("code-replayed")
    await b.fill(code=phone.code())
    await b.submit()
    await b.wait_text("My sign-in methods")

    # Phone lost: the recovery code logs in, and the new one is shown once.
    await b.click("header .logout button")
    await b.wait_text("Log in")
    await log_in(b, JAN_PASSWORD)
    await b.click("#factor-recovery")
    await b.fill(code=recovery)
    await b.submit()
    await b.wait_text("My sign-in methods")
    renewed = await b.text("#recovery-code")
    assert renewed and renewed != recovery
    await b.shot("recovery-renewed")
    await b.open("/factors")
    assert "recovery-code" not in str(await b.run(lambda: b.driver.page_source))

    # A passkey with Chromium's virtual authenticator, then a login with it.
    await b.run(b.driver.add_virtual_authenticator, passkey_authenticator())
    try:
        await b.fill(passkey_name="Laptop")
        await b.click("#passkey-add")
        await b.wait_text("Laptop", "table")
        await b.shot("factors-passkey")
        # The same authenticator again: the browser refuses, and the page says so in words.
        await b.fill(passkey_name="Laptop again")
        await b.click("#passkey-add")
        told = await b.wait_text("already added", "#passkey-error")
        assert "InvalidStateError" not in told and "credential" not in told.lower(), told
        await b.click("header .logout button")
        await b.wait_text("Log in")
        await log_in(b, JAN_PASSWORD)
        await b.click("#factor-passkey")
        await b.wait_text("passkey")
        await b.shot("passkey-login")
        await b.click("#passkey-login")
        await b.wait_text("My sign-in methods")
    finally:
        await b.run(b.driver.remove_virtual_authenticator)
