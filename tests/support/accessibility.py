"""The accessibility check in browser tests: axe-core (pinned in tests/peers, installed by
``make peers``) injected into the page the driver shows, run against the WCAG 2.0, 2.1 and
2.2 A and AA rules. The front end's CSP allows no inline script, but WebDriver's scripts are
the browser's own, not the page's."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver

AXE = Path(__file__).resolve().parents[1] / "peers" / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.2 AA and everything below it (axe tags each rule with the version that added it).
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: The impacts that fail a test; axe's "moderate" and "minor" are reported, not failed.
BLOCKING = ("serious", "critical")

_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(r => done(r.violations), e => done({error: String(e)}));
"""


@cache
def _source() -> str:
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `make peers`")
    return AXE.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    """One axe rule broken on a page: its id, impact, help text and the nodes' CSS targets."""

    page: str
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}: {self.rule} ({self.impact}) {self.help} at {', '.join(self.targets)}"


def axe_violations(driver: WebDriver, page: str) -> list[Violation]:
    """axe's WCAG 2.2 AA violations on the page the driver shows now (``page`` names it in
    the report). Injected once per document: a resize keeps it."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(_source())
    driver.set_script_timeout(60)
    found: Any = driver.execute_async_script(_RUN, WCAG_AA)
    if isinstance(found, dict):
        raise AssertionError(f"axe failed on {page}: {found.get('error')}")
    return [
        Violation(
            page,
            str(v["id"]),
            str(v.get("impact")),
            str(v["help"]),
            tuple(" ".join(map(str, node["target"])) for node in v["nodes"]),
        )
        for v in found
    ]


def blocking(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.impact in BLOCKING]


def assert_accessible(violations: list[Violation]) -> None:
    """Fails listing each serious or critical violation, one a line."""
    serious = blocking(violations)
    if serious:
        lines = "\n".join(f"  {v}" for v in serious)
        raise AssertionError(f"{len(serious)} serious or critical axe violation(s):\n{lines}")
