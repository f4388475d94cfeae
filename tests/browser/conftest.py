"""Browser tests: Debian's chromium + chromedriver through Selenium 4 (never Selenium Manager:
no network), one headless browser per module, the web front end on a free port of localhost in
front of the in-process services of ``cluster``. Selenium's calls block, so the tests make them
in a thread (``Browser``, tests/support/browser.py) while the services answer on the event loop."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


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
