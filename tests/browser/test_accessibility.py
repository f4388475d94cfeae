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
from tests.support.sdk import url, web_zone
from tests.support.site import add_employee, start_practice
from tests.support.story import JAN, JAN_PASSWORD, PRACTICE, Authenticator, Story
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

    async def see(self, css: str, page: str, refused: bool = False) -> None:
        """Once the browser shows ``css``, :meth:`check` the page."""
        await self.b.find(css)
        await self.check(page, refused)

    async def visit(self, path: str, css: str, page: str, refused: bool = False) -> None:
        """Open ``path`` and :meth:`see` it."""
        await self.b.open(path)
        await self.see(css, page, refused)


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
    story, admin = await start_practice(cluster, smtp_sink)
    certs = await cluster.start("a", "certs")
    for person in (JAN, PIET):
        await add_employee(story, admin, person, FIRST_PASSWORD, temporary=True)
    zone = {**web_zone(story.auth, story.enrolment), "certs": url(certs)}
    async for address in serve_web([zone], free_port()):
        driver.delete_all_cookies()
        await asyncio.to_thread(driver.set_window_size, *DESKTOP)
        yield Browser(driver, address), story, admin


async def log_in(b: Browser, username: str, password: str, start: str = "/login") -> None:
    """The login form at ``start`` (the web's, or the OpenID Provider's for an application)
    filled in and sent."""
    await b.open(start)
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
    await walk.see("#error-summary", "login-refused", refused=True)
    await log_in(b, "admin", ADMIN_PASSWORD)
    await b.find("header .logout button")
    await walk.visit("/console/settings", "#save", "console-settings")
    await b.fill(ura="123")
    await b.click("#save")
    await walk.see("#ura-error", "console-settings-refused", refused=True)
    await walk.visit("/console/employees", "#employee-jan01", "console-employees")
    await walk.visit("/console/employees/jan01", "#save", "console-employee")
    for task in ("unlock", "password", "sessions"):
        await walk.visit(
            f"/console/employees/jan01/account/{task}",
            "main form button[type=submit]",
            f"console-account-{task}",
        )
    await walk.visit(
        "/console/employees/jan01/deactivate", "#confirm-deactivate", "console-deactivate"
    )
    await walk.visit("/console/certificates", "#pkcs12", "console-certificates")
    await walk.visit("/console/audit", "p.refused", "console-audit")
    await log_out(b)


async def employee_walk(walk: Walk, story: Story, person: dict[str, Any]) -> None:
    """An employee's pages: the password change, the wizard, the second step, their own
    sign-in methods, and the console refused (rights group 2)."""
    b = walk.b
    await log_in(b, person["username"], FIRST_PASSWORD)
    await walk.see("#new_password", "change-password")
    await b.fill(new_password=JAN_PASSWORD)
    await b.submit()
    await walk.see("main a.button[href='/wizard']", "enrol-needed")
    await b.click("main a.button")
    await walk.see("#activation_code", "wizard-identity")
    await b.fill(activation_code="WRONGCODE1", bsn=person["bsn"])
    await b.date("birth_date", person["birth_date"])
    await b.submit()
    await walk.see("#error-summary", "wizard-identity-refused", refused=True)
    code = await story.activation_code(person["email"], 1)
    await b.fill(activation_code=code, bsn=person["bsn"])
    await b.date("birth_date", person["birth_date"])
    await b.submit()
    await walk.see("img.qr", "wizard-qr")
    phone = Authenticator(re.sub(r"\s", "", await b.text("#secret")))
    await b.fill(code=phone.code())
    await b.submit()
    await walk.see("#recovery-code", "wizard-recovery")

    await log_in(b, person["username"], JAN_PASSWORD)
    await walk.see("#factor-totp", "second-step-choose")
    await b.click("#factor-totp")
    await walk.see("#code", "second-step-code")
    await b.fill(code="000000")
    await b.submit()
    await walk.see("#error-summary", "second-step-refused", refused=True)
    await b.fill(code=phone.code())
    await b.submit()
    await b.find("header .logout button")
    await walk.visit("/factors", "main table", "factors")
    await b.click("#replace-app")
    await walk.see("#confirm-app", "factors-app")
    await b.open("/factors")
    await b.click("tr.factor[data-kind=totp] a.remove")
    await walk.see("#confirm-remove", "factors-remove")
    await walk.visit("/console/employees", "p.refused", "forbidden")
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
        zone = web_zone(auth, enrolment)
        statements = f"c1:{generate_key()}"
        async for address in serve_web([zone], port, issuer=origin, card_statement_keys=statements):
            driver.delete_all_cookies()
            await asyncio.to_thread(driver.set_window_size, *DESKTOP)
            yield WaysIn(Browser(driver, address), admin, urlencode(query))


async def oidc_walk(walk: Walk, ways: WaysIn) -> None:
    """An application's login: a request the provider refuses, the login page naming the
    application, the UZI-pas page beside it, a login with the recovery code (its new one shown
    before going back to the application)."""
    b = walk.b
    await walk.visit("/authorize?client_id=nobody&response_type=code", "#oidc-error", "oidc-error")
    await b.open(f"/authorize?{ways.authorize}")
    await b.find("#practice")
    assert "App app" in await b.text("main"), "the login page names the application"
    await walk.check("oidc-login")
    await walk.visit("/login/card", "#card-login", "card-login")
    await b.submit("#card-login button[type=submit]")
    await walk.see("#error-summary", "card-login-refused", refused=True)
    await log_in(b, "admin", ADMIN_PASSWORD, start=f"/authorize?{ways.authorize}")
    await b.click("#factor-recovery")
    await b.fill(code=RECOVERY)
    await b.submit()
    await walk.see("#download-recovery", "oidc-recovery")
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
        await walk.see("#save-name", "factors-name")
        await b.open("/factors")
        await b.click("#new-recovery")
        await walk.see("#confirm-recovery", "factors-recovery")
        await walk.visit("/factors/dezi", "#dezi-start", "dezi-link")
        await b.click("#dezi-start")
        await b.click("#account-devries")  # at the test Dezi
        await b.wait_text(number_of("devries"), "#dezi-done")
        await walk.check("dezi-linked")
        await walk.visit("/login/dezi/callback", "#dezi-back", "dezi-refused", refused=True)
        await b.open(f"/console/employees/{ways.admin}")
        await b.click("#factors li:first-child a")
        await walk.see("#confirm-remove", "console-factor-remove")
        await b.open(f"/console/employees/{ways.admin}/account/unlock")
        await b.click("#confirm-unlock")
        await walk.see("#back", "console-account-done")
        await walk.visit("/end-session", "#oidc-logout", "oidc-logout")
        await b.click("#oidc-logout")
        await walk.see("#oidc-logged-out", "oidc-logged-out")
        # The practice asks no second step; the application does.
        await log_in(b, "admin", ADMIN_PASSWORD, start=f"/authorize?{ways.authorize}")
        await b.click("#factor-passkey")
        await walk.see("#passkey-login", "passkey-login")
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
