"""Structured logs: one JSON object per line, with the service, its zone and, where there is
one, the practice and the request id of the work being done.

The service and zone come from :func:`configure` (one service per process) or, where a
process runs several (the tests), from the scope its tasks and requests run in
(:func:`scoped`). A log call adds fields with ``extra={...}``; only the names in
:data:`FIELDS` are copied into the line, so that nothing reaches the log by accident. Never
pass a secret (a password, a code, a token, a TOTP secret, a BSN) in a message or a field.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
#: The practice the current request or event is about.
current_practice: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "practice", default=None
)
#: ``(service, zone)`` of the service doing the current work, when a process runs several.
scope: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "log_scope", default=None
)

#: Fields a log call may pass in ``extra`` that go into the JSON line: what operators filter
#: and alert on. ``error`` is an exception's class name, ``reason`` a text that names no value.
FIELDS = (
    "service",
    "zone",
    "practice",
    "employee",
    "username",
    "factor",
    "locked_until",
    "version",
    "port",
    "ops_port",
    "url",
    "status",
    "previous",
    "checks",
    "failing",
    "consumer",
    "topic",
    "partition",
    "offset",
    "event_id",
    "event_type",
    "task",
    "attempt",
    "attempts",
    "retry_in",
    "error",
    "reason",
    "seq",
    "kid",
)


def bind(*, practice: str | None) -> None:
    """Name the practice of the work in progress, for every later line of this request or
    task (the HTTP middleware and the consumers reset it when their unit of work ends)."""
    current_practice.set(practice)


@contextlib.contextmanager
def bound(*, practice: str | None) -> Iterator[None]:
    """``practice`` for the lines logged inside the block."""
    token = current_practice.set(practice)
    try:
        yield
    finally:
        current_practice.reset(token)


def scoped(service: str, zone: str) -> contextvars.Context:
    """A copy of the current context in which lines name ``service`` and ``zone``: run a
    service's background tasks in it (``asyncio.create_task(..., context=...)``)."""
    context = contextvars.copy_context()
    context.run(scope.set, (service, zone))
    return context


def package_version() -> str:
    """The installed version of Tweestap (``unknown`` when run from a bare checkout)."""
    try:
        return metadata.version("tweestap")
    except metadata.PackageNotFoundError:
        return "unknown"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, zone: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.zone = zone

    def format(self, record: logging.LogRecord) -> str:
        service, zone = scope.get() or (self.service, self.zone)
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": service,
            "zone": zone,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        if (current := current_practice.get()) is not None:
            entry["practice"] = current
        fields = record.__dict__
        entry.update((name, fields[name]) for name in FIELDS if fields.get(name) is not None)
        if entry["zone"] is None:
            del entry["zone"]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, zone: str | None = None, level: str = "INFO") -> None:
    """JSON lines on stderr for the whole process (``tweestap serve``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, zone))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
