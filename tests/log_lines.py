"""Capture of the log lines the services write (the JSON their formatter makes), for tests
that check what an operator reads and that no secret is among it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from shared.logs import JsonFormatter
from tests.conftest import wait_for


class Lines(logging.Handler):
    """Every line the root logger writes at info and above, parsed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter("unset"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def where(self, **fields: Any) -> list[dict[str, Any]]:
        """Lines with these field values (``...``: the field is present, whatever its value)."""
        return [
            line
            for line in self.lines
            if all(line.get(k) == v if v is not ... else k in line for k, v in fields.items())
        ]

    async def wait(self, **fields: Any) -> list[dict[str, Any]]:
        async def found() -> list[dict[str, Any]]:
            return self.where(**fields)

        return await wait_for(found, timeout=20)


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The root logger's lines during the test (at info, the services' default level)."""
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
