"""The browser in tests: a WebDriver whose blocking calls run in a thread (``Browser``) while
the services answer on the event loop, and the web front end served on a port of localhost
(tests/browser/conftest.py starts the driver)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import (
    Protocol,
    Transport,
    VirtualAuthenticatorOptions,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select

from services.web.app import create_app
from services.web.settings import WebSettings

#: With TWEESTAP_SCREENS=docs/screens the tests save a PNG of each page they reach.
SCREENS = os.environ.get("TWEESTAP_SCREENS")


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

    async def choose(self, name: str, value: str) -> None:
        """The option of a select (``#name``) whose value is ``value``."""
        element = await self.find(f"#{name}")
        await self.run(lambda: Select(element).select_by_value(value))

    async def date(self, name: str, iso: str) -> None:
        """A date: typed into its day, month and year fields where the page asks it so
        (services/web/dates.py), else a date input's value (typing there depends on the
        browser's locale's field order)."""
        found = await self.run(self.driver.find_elements, By.CSS_SELECTOR, f"#{name}-day")
        if found:
            year, month, day = iso.split("-")
            await self.fill(
                **{
                    f"{name}-day": str(int(day)),
                    f"{name}-month": str(int(month)),
                    f"{name}-year": year,
                }
            )
            return
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


def passkey_authenticator() -> VirtualAuthenticatorOptions:
    """Chromium's virtual authenticator as a platform passkey (``driver.add_virtual_
    authenticator``): resident keys, the user verified without asking."""
    options = VirtualAuthenticatorOptions()
    options.protocol = Protocol.CTAP2
    options.transport = Transport.INTERNAL
    options.has_resident_key = True
    options.has_user_verification = True
    options.is_user_verified = True
    return options


async def serve_web(zones: list[dict[str, str]], port: int, **more: Any) -> AsyncIterator[str]:
    """The web front end at ``http://localhost:{port}`` (``more``: other settings of it)."""
    settings = WebSettings(port=port, zones=zones, **more)
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield f"http://localhost:{port}"
    finally:
        await server.close()
