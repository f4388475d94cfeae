"""The admin console through a real browser (Chromium, headless): the administrator completes
the practice data (its URA) and switches two-factor on (refused below strength 60, the
incomplete employee listed, then "continue anyway"), completes Jan's data (his Dezi number,
then refused for the administrator: 409), deactivates his second factor behind a confirmation
page, imports a PKCS#12 file (serial in hex pairs, a grant) and is told
that the audit trail needs a two-factor session (NEN 7513; the rows with two factors:
tests/integration/test_audit_trail.py). A rights-group-2 token gets the 403 page."""

from __future__ import annotations

import asyncio
import base64
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from services.dev.infra import free_port
from tests.support.browser import Browser, serve_web
from tests.support.certificates import TestCA
from tests.support.cluster import ADMIN_PASSWORD, Cluster, Zone, wait_for
from tests.support.mail import SmtpSink
from tests.support.story import JAN, PRACTICE, PRACTICE_EMAIL, Story, jan_at_auth

#: The console's screenshots follow the employee story's (20-console-….png).
FIRST_SHOT = 19
PKCS12_PASSWORD = "p12-geheim"


@pytest.fixture
async def console(
    cluster: Cluster, smtp_sink: SmtpSink, driver: WebDriver
) -> AsyncIterator[tuple[Browser, Story, Zone]]:
    auth = await cluster.start("a")
    enrolment = await cluster.start("a", "enrolment")
    certs = await cluster.start("a", "certs")
    story = Story(cluster, auth, enrolment, smtp_sink)
    await cluster.bootstrap(auth, PRACTICE)
    _, answer = await story.login(auth, PRACTICE, "admin", ADMIN_PASSWORD)
    admin = answer["token"]["token"]
    path = f"/v1/practices/{PRACTICE}"

    async def known() -> bool:
        a, _ = await story.call(enrolment, "GET", path, admin)
        b, _ = await story.call(certs, "GET", f"{path}/certificates", admin)
        return a == b == 200

    await wait_for(known)
    # Jan without BSN or birth date: the switch lists him as incomplete.
    jan = {k: v for k, v in JAN.items() if k not in ("bsn", "birth_date")}
    status, body = await story.call(enrolment, "PUT", f"{path}/employees/jan01", admin, **jan)
    assert status == 200, body
    zone = {
        service: str(z.client.make_url("")).rstrip("/")
        for service, z in (("auth", auth), ("enrolment", enrolment), ("certs", certs))
    }
    async for url in serve_web([zone], free_port()):
        driver.delete_all_cookies()
        driver.set_window_size(1200, 1500)  # the console's tables in one screenshot
        b = Browser(driver, url)
        b.shots = FIRST_SHOT
        yield b, story, auth


async def scroll_to(b: Browser, css: str) -> None:
    """Bring ``css`` into the screenshot (a page taller than the window)."""
    element = await b.find(css)
    await b.run(b.driver.execute_script, "arguments[0].scrollIntoView({block: 'end'})", element)


async def log_in_admin(b: Browser) -> None:
    await b.open("/login")
    await b.fill(practice=PRACTICE, username="admin", password=ADMIN_PASSWORD)
    await b.submit()
    await b.wait_text("", "main")


async def test_console_in_the_browser(console: tuple[Browser, Story, Zone]) -> None:
    b, _, _ = console
    await log_in_admin(b)
    await b.open("/console/settings")
    await b.wait_text("Praktijkinstellingen", "h1")

    # The practice's e-mail and URA saved (a URA that is not eight digits refused at its
    # field first); two factors at strength 40 refused at the minimum's field.
    await b.fill(email=PRACTICE_EMAIL, ura="8765432")
    await b.click("#save")
    await b.wait_text("8 cijfers", "#ura-error")
    assert (await b.find("#ura")).get_attribute("aria-invalid") == "true"
    await b.fill(ura="87654321")
    await b.click("#save")
    await b.wait_text("Opgeslagen", "#saved")
    assert (await b.find("#ura")).get_attribute("value") == "87654321"
    assert (await b.find("#email")).get_attribute("value") == PRACTICE_EMAIL
    # Rights group 3 needs hoog (ADR 0012): saved in enrolment, shown again.
    await b.choose("assurance_3", "high")
    await b.click("#save")
    await b.wait_text("Opgeslagen", "#saved")
    assert (await b.find("#assurance_3 option[selected]")).get_attribute("value") == "high"
    assert (await b.find("#assurance_minimum option[selected]")).get_attribute("value") == "low"
    await b.fill(min_strength="40")
    await b.click("#two_factor_required")
    await b.click("#save")
    await b.wait_text("minstens 60", "#min_strength-error")
    field = await b.find("#min_strength")
    assert field.get_attribute("aria-invalid") == "true"
    assert "min_strength-error" in (field.get_attribute("aria-describedby") or "")

    # The preview scores a password with the practice's name against the chosen minimum.
    await b.fill(min_strength="60", try_password="Fysio Jansen 2024")
    await b.click("#preview")
    result = await b.wait_text("te zwak", "#strength")
    assert "minimum 60" in result
    assert (await b.find("#try_password")).get_attribute("value") == ""

    # At 60 the switch lists Jan (no BSN, no birth date) and the administrator herself.
    await b.click("#save")
    listed = await b.wait_text("Jan de Vries", "#incomplete")
    assert "BSN" in listed and "geboortedatum" in listed and "Anna Jansen" in listed
    await scroll_to(b, "#incomplete")
    await b.shot("console-settings")

    # Jan flagged, edited (birth date and BSN), then only the app is missing.
    await b.open("/console/employees")
    row = await b.wait_text("BSN", "#employee-jan01")
    assert "geboortedatum" in row
    await b.shot("console-employees")
    await b.click("#employee-jan01 a")
    await b.wait_text("Jan de Vries", "h1")
    await b.fill(bsn=JAN["bsn"])
    # The birth date as day, month and year; a day that does not exist is refused at it.
    await b.fill(**{"birth_date-day": "31", "birth_date-month": "2", "birth_date-year": "1980"})
    await b.click("#save")
    assert await b.text("#birth_date-error"), "31 February refused at the date"
    await b.date("birth_date", JAN["birth_date"])
    # His Dezi number: letters refused at the field, digits saved.
    await b.fill(dezi_number="UZI-1")
    await b.shot("console-employee")
    await b.click("#save")
    await b.wait_text("cijfers", "#dezi_number-error")
    await b.fill(bsn=JAN["bsn"], dezi_number="900000123")
    await b.date("birth_date", JAN["birth_date"])
    await b.click("#save")
    await b.wait_text("Opgeslagen", "#saved")
    row = await b.text("#employee-jan01")
    assert "BSN" not in row and "geboortedatum" not in row and "authenticator-app" in row
    await b.click("#employee-jan01 a")
    shown = [await b.find(f"#birth_date-{part}") for part in ("year", "month", "day")]
    typed = [int(element.get_attribute("value") or 0) for element in shown]
    assert "-".join(f"{number:02d}" for number in typed) == JAN["birth_date"]
    assert "Er is een BSN vastgelegd" in await b.text("#bsn-hint")
    assert (await b.find("#dezi_number")).get_attribute("value") == "900000123"

    # The same number for the administrator: another employee of the practice has it (409).
    await b.open("/console/employees")
    await b.click('a[aria-label="Wijzigen: Anna Jansen"]')
    await b.wait_text("Anna Jansen", "h1")
    await b.fill(dezi_number="900000123")
    await b.click("#save")
    await b.wait_text("heeft dit Dezi/UZI-nummer al", "#dezi_number-error")
    await b.open("/console/employees/jan01")
    await b.wait_text("Jan de Vries", "h1")

    # Deactivation asks first on a page of its own.
    await b.click("#deactivate")
    await b.wait_text("Jan de Vries", "h1")
    await b.shot("console-deactivate")
    await b.click("#confirm-deactivate")
    await b.wait_text("gedeactiveerd", "#deactivated")

    # A PKCS#12 import: the serial in hex pairs, then a grant to Jan.
    issued = TestCA().uzi()
    with tempfile.TemporaryDirectory() as folder:
        p12 = Path(folder, "uzi.p12")
        data = base64.b64decode(issued.pkcs12(PKCS12_PASSWORD))
        await asyncio.to_thread(p12.write_bytes, data)
        await b.open("/console/certificates")
        await b.shot("console-certificates")
        upload = await b.find("#pkcs12")
        await b.run(upload.send_keys, str(p12))
        await b.fill(password="fout")
        await b.click("#import")
        await b.wait_text("klopt niet", "#password-error")
        upload = await b.find("#pkcs12")
        await b.run(upload.send_keys, str(p12))
        await b.fill(password=PKCS12_PASSWORD)
        await b.click("#import")
        serial = await b.wait_text(":", "#serial")
    expected = format(issued.cert.serial_number, "X")
    expected = "0" * (len(expected) % 2) + expected
    assert serial == ":".join(expected[i : i + 2] for i in range(0, len(expected), 2))
    await b.click("#type-public")
    await b.fill(agb_code="12345678", services="LSP")
    await b.click("#save")
    await b.wait_text("Opgeslagen", "#saved")
    assert (await b.find("#type-public")).is_selected()
    # A public certificate is the practice's, granted to nobody: no grants to manage.
    assert not await b.run(b.driver.find_elements, By.CSS_SELECTOR, "#grant")
    await b.click("#type-personal")
    await b.click("#save")
    await b.wait_text("Opgeslagen", "#saved")
    who = await b.find("#employee")
    await b.run(who.send_keys, "Jan")
    await b.click("#grant")
    await b.wait_text("Jan de Vries", "#grants")
    await b.shot("console-certificate")

    # The audit trail needs two factors (NEN 7513): this password-only session is told so, on
    # the page and for the export, instead of the rows.
    await b.open("/console/audit")
    refused = await b.wait_text("twee factoren", "p.refused")
    assert "praktijkinstellingen" in refused
    await b.shot("console-audit")
    cookie = await b.run(b.driver.get_cookie, "tweestap_session")
    jar = {"tweestap_session": cookie["value"]}
    export = f"{b.url}/console/audit/export?type=practice.settings_changed"
    async with aiohttp.ClientSession(cookies=jar) as http, http.get(export) as response:
        assert response.status == 403
        assert "twee factoren" in await response.text()

    # Now only the administrator lacks data; "continue anyway" switches two factors on, which
    # ends her password-only session (the page says so).
    await b.open("/console/settings")
    await b.fill(min_strength="60")
    await b.click("#two_factor_required")
    await b.click("#save")
    listed = await b.wait_text("Anna Jansen", "#incomplete")
    assert "Jan de Vries" not in listed
    # She is told she locks herself out; the switch is still off; the button counts.
    assert "U staat zelf in deze lijst" in await b.text("#myself")
    assert await b.text("#two-factor-now") == "Nu uitgeschakeld."
    button = await b.find("#continue-anyway")
    assert "1 medewerker(s) kunnen dan niet inloggen" in button.text
    assert "secondary" in (button.get_attribute("class") or "")
    await scroll_to(b, "#incomplete")
    await b.shot("console-settings-incomplete")
    await b.click("#continue-anyway")
    await b.wait_text("nu verplicht", "#switched")
    await b.shot("console-settings-switched")
    await b.open("/console/settings")
    await b.wait_text("Inloggen", "h1")


async def test_console_refuses_an_employee(console: tuple[Browser, Story, Zone]) -> None:
    b, story, auth = console
    path = f"/v1/practices/{PRACTICE}/employees/jan01/password"
    _, answer = await story.login(auth, PRACTICE, "admin", ADMIN_PASSWORD)
    await jan_at_auth(auth)
    status, body = await story.call(
        auth,
        "PUT",
        path,
        answer["token"]["token"],
        password="Tulpen-Fiets-Regen-7",
        temporary=False,
    )
    assert status == 200, body
    await b.open("/login")
    await b.fill(practice=PRACTICE, username="jan", password="Tulpen-Fiets-Regen-7")
    await b.submit()
    await b.wait_text("", "main")
    await b.open("/console/employees")
    await b.wait_text("rechtengroep 1", "main")
    assert "Jan de Vries" not in await b.text("main")
