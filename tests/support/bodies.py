"""Spoiled request bodies, for tests that bad input is refused as a 4xx problem and changes
nothing."""

from __future__ import annotations

import json
from typing import Any


def bad_bodies(body: dict[str, Any], field: str) -> dict[str, tuple[bytes, str, bool]]:
    """name → (raw body, content type, whether the problem must name ``field``)."""

    def spoiled(value: str) -> bytes:
        return json.dumps({**body, field: value}).encode()

    return {
        "10,000-deep nesting": (b"[" * 10_000 + b"]" * 10_000, "application/json", False),
        "NUL": (spoiled("ab\u0000cd"), "application/json", True),
        "lone surrogate": (spoiled("ab\ud800cd"), "application/json", True),
        "10 KB string": (spoiled("x" * 10_000), "application/json", True),
        "100 KB string": (spoiled("x" * 100_000), "application/json", False),
        "invalid UTF-8": (b'{"' + field.encode() + b'": "\xff\xfe"}', "application/json", False),
        "wrong content type": (json.dumps(body).encode(), "text/plain", False),
        "non-object JSON": (b'["a", 1]', "application/json", False),
    }
