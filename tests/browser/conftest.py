"""Browser tests: Debian's chromium + chromedriver through Selenium 4 (never Selenium Manager:
no network), one headless browser per module, the web front end on a free port of localhost in
front of the in-process services of ``cluster``. Selenium's calls block, so the tests make them
in a thread (``Browser``) while the services answer on the event loop."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from services.web.app import create_app
from services.web.settings import WebSettings

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: With TWEESTAP_SCREENS=docs/screens the tests save a PNG of each page they reach.
SCREENS = os.environ.get("TWEESTAP_SCREENS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium and chromium-driver are not installed")
    profile = tempfile.mkdtemp(prefix="tweestap-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1000,1100",
        f"--user-data-dir={profile}",
        "--lang=nl-NL",
    ):
        options.add_argument(arg)
    # A Dutch browser, as at a Dutch practice: the front end's default follows Accept-Language.
    options.add_experimental_option("prefs", {"intl.accept_languages": "nl-NL,nl"})
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # A click that loads the next page returns before it is there: finding waits for it.
    chrome.implicitly_wait(10)
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Browser:
    """The driver, its calls made in a thread; ``url`` is the front end's origin."""

    driver: WebDriver
    url: str
    shots: int = 0

    async def run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def open(self, path: str) -> None:
        await self.run(self.driver.get, self.url + path)

    async def find(self, css: str) -> WebElement:
        found: WebElement = await self.run(self.driver.find_element, By.CSS_SELECTOR, css)
        return found

    async def text(self, css: str = "main") -> str:
        element = await self.find(css)
        return str(await self.run(lambda: element.text))

    async def fill(self, **fields: str) -> None:
        for name, value in fields.items():
            element = await self.find(f"#{name}")
            await self.run(element.clear)
            await self.run(element.send_keys, value)

    async def date(self, name: str, iso: str) -> None:
        """A date input's value (typing depends on the browser's locale's field order)."""
        element = await self.find(f"#{name}")
        await self.run(
            self.driver.execute_script, "arguments[0].value = arguments[1]", element, iso
        )

    async def keys(self, *keys: str) -> None:
        """Keys typed into whatever has the focus (as a keyboard-only user does)."""
        for key in keys:
            await self.run(lambda k=key: self.driver.switch_to.active_element.send_keys(k))

    async def click(self, css: str) -> None:
        element = await self.find(css)
        await self.run(element.click)

    async def submit(self, css: str = "main form button[type=submit]") -> None:
        await self.click(css)

    async def wait_text(self, needle: str, css: str = "main", timeout: float = 15.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                found = await self.text(css)
            except Exception:
                found = ""
            if needle in found:
                return found
            if loop.time() > deadline:
                raise AssertionError(f"{needle!r} not in {css}: {found!r}")
            await asyncio.sleep(0.1)

    async def shot(self, name: str) -> None:
        if SCREENS:
            self.shots += 1
            await self.run(lambda: Path(SCREENS).mkdir(parents=True, exist_ok=True))
            await self.run(self.driver.save_screenshot, f"{SCREENS}/{self.shots:02d}-{name}.png")


async def serve_web(zones: list[dict[str, str]], port: int) -> AsyncIterator[str]:
    settings = WebSettings(port=port, zones=zones)
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield f"http://localhost:{port}"
    finally:
        await server.close()
