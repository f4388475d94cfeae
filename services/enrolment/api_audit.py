"""The audit trail's HTTP shapes and query parsing: ``GET /v1/practices/{p}/audit`` (a page)
and ``…/audit/export`` (JSON lines). A bad parameter is a 400 problem naming it."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from multidict import MultiMapping
from pydantic import BaseModel, Field

from services.enrolment.adapters.audit_store import Filters
from services.enrolment.domain.audit import ACTIONS
from shared.events import ID_PATTERN
from shared.problems import Problem

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class AuditQuery(BaseModel):
    """The query parameters (declared in /openapi.json; parsed by :func:`parse_query`)."""

    start: datetime | None = Field(
        default=None, alias="from", description="Events at or after this time (ISO 8601)"
    )
    to: datetime | None = Field(default=None, description="Events before this time (ISO 8601)")
    employee: str | None = Field(
        default=None, pattern=ID_PATTERN, description="The employee as actor or object"
    )
    type: str | None = Field(
        default=None, description="Actions, comma-separated or the parameter repeated"
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, description="``next`` of the previous page")


class AuditActor(BaseModel):
    user: str | None
    rights_group: int | None
    address: str | None


class AuditObject(BaseModel):
    type: Literal["employee", "certificate", "practice"]
    id: str


class AuditEvent(BaseModel):
    """One audit record (NEN 7513 / IHE ATNA fields)."""

    id: uuid.UUID
    practice: str
    time: datetime
    recorded_at: datetime
    action: str
    outcome: Literal["success", "failure"]
    actor: AuditActor
    object: AuditObject
    source: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    events: list[AuditEvent]
    #: Pass as ``cursor`` for the next (older) page; null on the last one.
    next: str | None


def bad_parameter(name: str, message: str) -> Problem:
    return Problem(
        400,
        "invalid-parameter",
        "Invalid query parameter",
        f"{name}: {message}",
        parameter=name,
    )


def _time(query: MultiMapping[str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_parameter(name, "not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise bad_parameter(name, "needs a time zone offset (e.g. Z or +01:00)")
    return _utc(value, name)


def _utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC; one that leaves the calendar there (0001-01-01T00:00+14:00) is a 400,
    not an overflow when it is sent to PostgreSQL."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise bad_parameter(name, "out of range") from None


def parse_filters(query: MultiMapping[str]) -> Filters:
    start, end = _time(query, "from"), _time(query, "to")
    if start is not None and end is not None and end < start:
        raise bad_parameter("to", "lies before from")
    employee = query.get("employee")
    if employee is not None and re.fullmatch(ID_PATTERN, employee) is None:
        raise bad_parameter("employee", "not an employee id")
    actions = tuple(
        sorted({a.strip() for raw in query.getall("type", []) for a in raw.split(",") if a.strip()})
    )
    if unknown := [a for a in actions if a not in ACTIONS]:
        raise bad_parameter("type", f"unknown action(s): {', '.join(unknown)[:200]}")
    return Filters(start, end, employee, actions)


def parse_limit(query: MultiMapping[str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_parameter("limit", f"an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def encode_cursor(time: datetime, event_id: uuid.UUID) -> str:
    raw = f"{time.isoformat()}|{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(query: MultiMapping[str]) -> tuple[datetime, uuid.UUID] | None:
    raw = query.get("cursor")
    if raw is None:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        at, _, event = text.partition("|")
        time, event_id = datetime.fromisoformat(at), uuid.UUID(event)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_parameter("cursor", "not a cursor this service gave") from None
    if time.tzinfo is None:
        raise bad_parameter("cursor", "not a cursor this service gave")
    return _utc(time, "cursor"), event_id


def view(row: asyncpg.Record) -> AuditEvent:
    return AuditEvent(
        id=row["event_id"],
        practice=row["practice"],
        time=row["time"],
        recorded_at=row["recorded_at"],
        action=row["action"],
        outcome=row["outcome"],
        actor=AuditActor(
            user=row["actor_user"],
            rights_group=row["actor_rights_group"],
            address=row["actor_address"],
        ),
        object=AuditObject(type=row["object_type"], id=row["object_id"]),
        source=row["source"],
        detail=row["detail"],
    )
