"""Every page of the web front end checked by axe-core (WCAG 2.0, 2.1 and 2.2, A and AA) in
Chromium, at desktop width and at 320 px: no serious or critical violation, no page wider than
320 px (reflow: tables scroll within themselves), a title of its own on every page with
"Fout:"/"Error:" first when it shows an error, and a focus indicator of at least 3:1 against
the page. One stack for the main walk, in Dutch and in English: the administrator's console
(two factors still off), then two factors on and an employee per language through the
password change, the wizard, the second step, the own sign-in methods (a new app, removing
one) and the 403 page. A second stack for the other ways in (in Dutch): an application's
login through the OpenID Provider (its error page, its login page, the recovery code's page,
the logout question and its answer), the UZI-pas page, the Dezi pages, a passkey added,
renamed and used at the passkey login page, a new recovery code's question and the console's
removal of one method. With TWEESTAP_SCREENS=docs/screens the Dutch pages are saved as
``a11y-<page>-<width>.png``, a few English ones as ``a11y-<page>-en-<width>.png``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from services.dev.infra import free_port
from shared import otp
from shared.sealing import generate_key
from tests.support.accessibility import Violation, axe_violations, blocking
from tests.support.browser import SCREENS, Browser, passkey_authenticator, serve_web
from tests.support.cluster import ADMIN_PASSWORD, Cluster, login, pool, wait_for
from tests.support.dezi import PORTS as DEZI_PORTS
from tests.support.dezi import URA, number_of, test_dezi
from tests.support.factors import add_factor
from tests.support.mail import SmtpSink
from tests.support.oidc import free_port_in, pkce, register
from tests.support.story import JAN, JAN_PASSWORD, PRACTICE, PRACTICE_EMAIL, Authenticator, Story
from tests.support.tokens import bearer

DESKTOP, NARROW = (1280, 900), (320, 800)
PIET: dict[str, Any] = {
    **JAN,
    "username": "piet",
    "name": "Piet Bakker",
    "email": "piet@fysio-jansen.nl",
    "bsn": "234567806",
    "birth_date": "1982-03-04",
}
#: Each employee's first, temporary password (replaced on the change-password page).
FIRST_PASSWORD = "Eerste-Keer-Wachtwoord-1"
ERROR_PREFIX = {"nl": "Fout: ", "en": "Error: "}
#: The pages whose English screenshots are saved too.
ENGLISH_SHOTS = frozenset({"login", "second-step-code", "factors", "console-employees"})


@dataclass
class Walk:
    """The pages seen in one language: what axe found, each page's title, and whether a page
    scrolled sideways at 320 px."""

    b: Browser
    locale: str
    violations: list[Violation] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    async def check(self, page: str, refused: bool = False) -> None:
        """The page the browser shows, at both widths; ``refused``: it shows an error."""
        driver = self.b.driver
        name = f"{self.locale}/{page}"
        title = str(await self.b.run(lambda: driver.title))
        self.titles[name] = title
        if title.startswith(ERROR_PREFIX[self.locale]) != refused:
            self.problems.append(f"{name}: title {title!r} (refused: {refused})")
        if (await self.b.find("html")).get_attribute("lang") != self.locale:
            self.problems.append(f"{name}: html lang is not {self.locale}")
        for width, height in (DESKTOP, NARROW):
            await self.b.run(driver.set_window_size, width, height)
            found = await self.b.run(axe_violations, driver, f"{name} at {width} px")
            self.violations.extend(found)
            if width == NARROW[0]:
                wide = await self.b.run(
                    driver.execute_script,
                    "const d = document.documentElement; return d.scrollWidth - d.clientWidth",
                )
                if int(wide) > 0:
                    self.problems.append(f"{name}: {wide} px wider than the window at 320 px")
            if SCREENS and (self.locale == "nl" or page in ENGLISH_SHOTS):
                language = "" if self.locale == "nl" else f"-{self.locale}"
                await self.b.run(full_page_shot, driver, f"a11y-{page}{language}-{width}.png")
        await self.b.run(driver.set_window_size, *DESKTOP)


def full_page_shot(driver: WebDriver, name: str) -> None:
    """The whole page (up to 3000 px high) at the window's width, saved under SCREENS."""
    width = driver.get_window_size()["width"]
    # The window's height less its viewport's: headless Chromium's window has a frame too.
    height, frame = driver.execute_script(
        "return [document.documentElement.scrollHeight, outerHeight - innerHeight]"
    )
    driver.set_window_size(width, min(int(height) + int(frame), 3000))
    Path(str(SCREENS)).mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(f"{SCREENS}/{name}")


@pytest.fixture
async def site(
    cluster: Cluster, smtp_sink: SmtpSink, driver: WebDriver
) -> AsyncIterator[tuple[Browser, Story, str]]:
    auth = await cluster.start("a")
    enrolment = await cluster.start("a", "enrolment")
    certs = await cluster.start("a", "certs")
    await cluster.start("a", "notifier", smtp_port=smtp_sink.port)
    story = Story(cluster, auth, enrolment, smtp_sink)
    await cluster.bootstrap(auth, PRACTICE)
    _, answer = await story.login(auth, PRACTICE, "admin", ADMIN_PASSWORD)
    admin = answer["token"]["token"]
    await story.practice_known(admin)
    path = f"/v1/practices/{PRACTICE}"
    status, body = await story.call(enrolment, "PUT", path, admin, email=PRACTICE_EMAIL)
    assert status == 200, body
    for person in (JAN, PIET):
        employee = f"{person['username']}01"
        status, body = await story.call(
            enrolment, "PUT", f"{path}/employees/{employee}", admin, **person
        )
        assert status == 200, body

        async def known(employee: str = employee) -> bool:
            sql = "SELECT 1 FROM employees WHERE practice = $1 AND id = $2"
            return bool(await auth.auth.pool.fetchval(sql, PRACTICE, employee))

        await wait_for(known)
        status, body = await story.call(
            auth,
            "PUT",
            f"{path}/employees/{employee}/password",
            admin,
            password=FIRST_PASSWORD,
            temporary=True,
        )
        assert status == 200, body
    zone = {
        service: str(z.client.make_url("")).rstrip("/")
        for service, z in (("auth", auth), ("enrolment", enrolment), ("certs", certs))
    }
    async for url in serve_web([zone], free_port()):
        driver.delete_all_cookies()
        await asyncio.to_thread(driver.set_window_size, *DESKTOP)
        yield Browser(driver, url), story, admin


async def log_in(b: Browser, username: str, password: str) -> None:
    await b.open("/login")
    await b.fill(practice=PRACTICE, username=username, password=password)
    await b.submit()


async def log_out(b: Browser) -> None:
    await b.click("header .logout button")
    await b.find("#practice")  # the login page


async def console_walk(walk: Walk) -> None:
    """The administrator's pages (a password-only session: two factors are still off)."""
    b = walk.b
    await b.open("/login")
    await b.wait_text("", "h1")
    await walk.check("login")
    await log_in(b, "admin", "wrong-password")
    await b.find("#error-summary")
    await walk.check("login-refused", refused=True)
    await log_in(b, "admin", ADMIN_PASSWORD)
    await b.find("header .logout button")
    await b.open("/console/settings")
    await b.find("#save")
    await walk.check("console-settings")
    await b.fill(ura="123")
    await b.click("#save")
    await b.find("#ura-error")
    await walk.check("console-settings-refused", refused=True)
    await b.open("/console/employees")
    await b.find("#employee-jan01")
    await walk.check("console-employees")
    await b.open("/console/employees/jan01")
    await b.find("#save")
    await walk.check("console-employee")
    for task in ("unlock", "password", "sessions"):
        await b.open(f"/console/employees/jan01/account/{task}")
        await b.find("main form button[type=submit]")
        await walk.check(f"console-account-{task}")
    await b.open("/console/employees/jan01/deactivate")
    await b.find("#confirm-deactivate")
    await walk.check("console-deactivate")
    await b.open("/console/certificates")
    await b.find("#pkcs12")
    await walk.check("console-certificates")
    await b.open("/console/audit")
    await b.find("p.refused")
    await walk.check("console-audit")
    await log_out(b)


async def employee_walk(walk: Walk, story: Story, person: dict[str, Any]) -> None:
    """An employee's pages: the password change, the wizard, the second step, their own
    sign-in methods, and the console refused (rights group 2)."""
    b = walk.b
    await log_in(b, person["username"], FIRST_PASSWORD)
    await b.find("#new_password")
    await walk.check("change-password")
    await b.fill(new_password=JAN_PASSWORD)
    await b.submit()
    await b.find("main a.button[href='/wizard']")
    await walk.check("enrol-needed")
    await b.click("main a.button")
    await b.find("#activation_code")
    await walk.check("wizard-identity")
    await b.fill(activation_code="WRONGCODE1", bsn=person["bsn"])
    await b.date("birth_date", person["birth_date"])
    await b.submit()
    await b.find("#error-summary")
    await walk.check("wizard-identity-refused", refused=True)
    code = await story.activation_code(person["email"], 1)
    await b.fill(activation_code=code, bsn=person["bsn"])
    await b.date("birth_date", person["birth_date"])
    await b.submit()
    await b.find("img.qr")
    await walk.check("wizard-qr")
    phone = Authenticator(re.sub(r"\s", "", await b.text("#secret")))
    await b.fill(code=phone.code())
    await b.submit()
    await b.find("#recovery-code")
    await walk.check("wizard-recovery")

    await log_in(b, person["username"], JAN_PASSWORD)
    await b.find("#factor-totp")
    await walk.check("second-step-choose")
    await b.click("#factor-totp")
    await b.find("#code")
    await walk.check("second-step-code")
    await b.fill(code="000000")
    await b.submit()
    await b.find("#error-summary")
    await walk.check("second-step-refused", refused=True)
    await b.fill(code=phone.code())
    await b.submit()
    await b.find("header .logout button")
    await b.open("/factors")
    await b.find("main table")
    await walk.check("factors")
    await b.click("#replace-app")
    await b.find("#confirm-app")
    await walk.check("factors-app")
    await b.open("/factors")
    await b.click("tr.factor[data-kind=totp] a.remove")
    await b.find("#confirm-remove")
    await walk.check("factors-remove")
    await b.open("/console/employees")
    await b.find("p.refused")
    await walk.check("forbidden")
    await log_out(b)


async def focus_contrast(b: Browser) -> float:
    """The contrast of the focused element's outline against the page behind it, after a Tab
    (the first control on the login page)."""
    await b.open("/login")
    await b.keys(Keys.TAB)
    style = await b.run(
        b.driver.execute_script,
        """const e = document.activeElement, s = getComputedStyle(e);
        let p = e.parentElement, bg = 'rgba(0, 0, 0, 0)';
        while (p && (bg = getComputedStyle(p).backgroundColor) === 'rgba(0, 0, 0, 0)') {
          p = p.parentElement; }
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor, bg];""",
    )
    outline_style, width, color, behind = style
    assert outline_style != "none" and width >= 2, style
    return contrast(rgb(color), rgb(behind))


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(n) for n in re.findall(r"\d+", css)[:3])
    return r, g, b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG's contrast ratio of two sRGB colours."""

    def luminance(c: tuple[int, int, int]) -> float:
        channels = [x / 255 for x in c]
        lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


async def test_every_page_is_accessible(site: tuple[Browser, Story, str]) -> None:
    b, story, admin = site
    dutch, english = Walk(b, "nl"), Walk(b, "en")
    await console_walk(dutch)
    await b.click("header button[value=en]")
    await b.wait_text("Log in", "h1")
    await console_walk(english)

    await story.require_two_factors(admin)
    await b.click("header button[value=nl]")
    await b.wait_text("Inloggen", "h1")
    await employee_walk(dutch, story, JAN)
    await b.click("header button[value=en]")
    await b.wait_text("Log in", "h1")
    await employee_walk(english, story, PIET)

    failures = [str(v) for v in blocking(dutch.violations + english.violations)]
    ratio = await focus_contrast(b)
    if ratio < 3.0:
        failures.append(f"the focus indicator's contrast is {ratio:.2f}:1, under 3:1")
    for walk in (dutch, english):
        failures.extend(walk.problems)
        titles = list(walk.titles.values())
        failures.extend(
            f"{walk.locale}: {t!r} is the title of more than one page"
            for t in sorted(set(titles))
            if titles.count(t) > 1
        )
    if (await b.find("header button[value=en]")).get_attribute("lang") != "en":
        failures.append("the English switch has no lang=en")
    assert not failures, "\n".join(failures)


# -- the other ways in: the OpenID Provider's pages, the UZI-pas, Dezi and passkey pages ------

#: The administrator's recovery code (at auth, for the application's login).
RECOVERY = "AAAAA-BBBBB-CCCCC-DDDDD"


@dataclass
class WaysIn:
    b: Browser
    admin: str
    authorize: str


@pytest.fixture
async def ways_in(cluster: Cluster, driver: WebDriver) -> AsyncIterator[WaysIn]:
    """Auth and enrolment as the OpenID Provider at the web's origin (passkeys there too), an
    application whose redirect URI is the web's home, the administrator with an app and a
    recovery code at auth; auth a relying party of the test Dezi (the practice's URA set); the
    web with a card statement keyring."""
    with test_dezi() as dezi:
        port = free_port_in(DEZI_PORTS, taken=(urlsplit(dezi.issuer).port or 0,))
        origin = f"http://localhost:{port}"
        auth = await cluster.start("a", issuer=origin, webauthn_origins=[origin], **dezi.settings())
        enrolment = await cluster.start("a", "enrolment", issuer=origin, webauthn_origins=[origin])
        admin = await cluster.bootstrap(auth, PRACTICE)
        await add_factor([auth], admin, "totp", {"secret": otp.new_secret()})
        await add_factor([auth], admin, "recovery", {"hash": otp.code_hash(RECOVERY)})
        redirect = f"{origin}/"
        await register(auth, "app", (redirect,))
        _, answer = await login(auth, PRACTICE, "admin", ADMIN_PASSWORD)
        headers = bearer(answer["token"]["token"])

        async def ura_set() -> bool:
            sql = "SELECT EXISTS (SELECT 1 FROM employees WHERE id = $1)"
            if not await pool(enrolment).fetchval(sql, admin):
                return False
            path = f"/v1/practices/{PRACTICE}"
            response = await enrolment.client.put(path, json={"ura": URA}, headers=headers)
            return response.status == 200

        await wait_for(ura_set, what="the administrator and the URA at enrolment")

        async def ura_at_auth() -> bool:
            sql = "SELECT ura = $1 FROM practices WHERE id = $2"
            return bool(await auth.auth.pool.fetchval(sql, URA, PRACTICE))

        await wait_for(ura_at_auth, what="the practice's URA at auth")
        _, challenge = pkce()
        query = {
            "client_id": "app",
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "openid",
            "state": "s1",
            "nonce": "n1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "acr_values": "aal2",  # the second step, though the practice does not ask it
        }
        zone = {
            "auth": str(auth.client.make_url("")).rstrip("/"),
            "enrolment": str(enrolment.client.make_url("")).rstrip("/"),
        }
        statements = f"c1:{generate_key()}"
        async for url in serve_web([zone], port, issuer=origin, card_statement_keys=statements):
            driver.delete_all_cookies()
            await asyncio.to_thread(driver.set_window_size, *DESKTOP)
            yield WaysIn(Browser(driver, url), admin, urlencode(query))


async def oidc_walk(walk: Walk, ways: WaysIn) -> None:
    """An application's login: a request the provider refuses, the login page naming the
    application, the UZI-pas page beside it, a login with the recovery code (its new one shown
    before going back to the application)."""
    b = walk.b
    await b.open("/authorize?client_id=nobody&response_type=code")
    await b.find("#oidc-error")
    await walk.check("oidc-error")
    await b.open(f"/authorize?{ways.authorize}")
    await b.find("#practice")
    assert "App app" in await b.text("main"), "the login page names the application"
    await walk.check("oidc-login")
    await b.open("/login/card")
    await b.find("#card-login")
    await walk.check("card-login")
    await b.submit("#card-login button[type=submit]")
    await b.find("#error-summary")
    await walk.check("card-login-refused", refused=True)
    await b.open(f"/authorize?{ways.authorize}")
    await b.fill(practice=PRACTICE, username="admin", password=ADMIN_PASSWORD)
    await b.submit()
    await b.click("#factor-recovery")
    await b.fill(code=RECOVERY)
    await b.submit()
    await b.find("#download-recovery")
    await walk.check("oidc-recovery")
    await b.click("#recovery-stored")
    await b.click("#recovery-done")
    await b.find("header .logout button")


async def own_walk(walk: Walk, ways: WaysIn) -> None:
    """Logged in (the application's login): a passkey added and renamed, a new recovery
    code's question, Dezi's pages, the console removing one method and a task done, the
    provider's logout; then the passkey login page."""
    b = walk.b
    await b.open("/factors")
    await b.run(b.driver.add_virtual_authenticator, passkey_authenticator())
    try:
        await b.fill(passkey_name="Laptop")
        await b.click("#passkey-add")
        await b.wait_text("Laptop", "tr.factor[data-kind=passkey]")
        await b.click("tr.factor[data-kind=passkey] a.rename")
        await b.find("#save-name")
        await walk.check("factors-name")
        await b.open("/factors")
        await b.click("#new-recovery")
        await b.find("#confirm-recovery")
        await walk.check("factors-recovery")
        await b.open("/factors/dezi")
        await b.find("#dezi-start")
        await walk.check("dezi-link")
        await b.click("#dezi-start")
        await b.click("#account-devries")  # at the test Dezi
        await b.wait_text(number_of("devries"), "#dezi-done")
        await walk.check("dezi-linked")
        await b.open("/login/dezi/callback")
        await b.find("#dezi-back")
        await walk.check("dezi-refused", refused=True)
        await b.open(f"/console/employees/{ways.admin}")
        await b.click("#factors li:first-child a")
        await b.find("#confirm-remove")
        await walk.check("console-factor-remove")
        await b.open(f"/console/employees/{ways.admin}/account/unlock")
        await b.click("#confirm-unlock")
        await b.find("#back")
        await walk.check("console-account-done")
        await b.open("/end-session")
        await b.find("#oidc-logout")
        await walk.check("oidc-logout")
        await b.click("#oidc-logout")
        await b.find("#oidc-logged-out")
        await walk.check("oidc-logged-out")
        # The practice asks no second step; the application does.
        await b.open(f"/authorize?{ways.authorize}")
        await b.fill(practice=PRACTICE, username="admin", password=ADMIN_PASSWORD)
        await b.submit()
        await b.click("#factor-passkey")
        await b.find("#passkey-login")
        await walk.check("passkey-login")
    finally:
        await b.run(b.driver.remove_virtual_authenticator)


async def test_the_other_ways_in_are_accessible(ways_in: WaysIn) -> None:
    walk = Walk(ways_in.b, "nl")
    await oidc_walk(walk, ways_in)
    await own_walk(walk, ways_in)
    failures = [str(v) for v in blocking(walk.violations)] + walk.problems
    titles = list(walk.titles.values())
    failures.extend(
        f"{t!r} is the title of more than one page" for t in set(titles) if titles.count(t) > 1
    )
    assert not failures, "\n".join(failures)
