"""Capture of the log lines the services write (the JSON their formatter makes), for tests
that check what an operator reads and that no secret is among it (the ``lines`` fixture of
tests/conftest.py captures them)."""

from __future__ import annotations

import json
import logging
from typing import Any

from shared.logs import JsonFormatter
from tests.support.cluster import wait_for


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
