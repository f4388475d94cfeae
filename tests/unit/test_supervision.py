"""Supervised background tasks, whose fault a consumer's failure is, and the storable string
type of events and requests (issue 10, findings 13 and 15). Pure logic: no broker, no DB."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import jwt
import pytest
from pydantic import BaseModel, ValidationError

from services.auth.http import ROUTES as AUTH_ROUTES
from services.certs.http import ROUTES as CERTS_ROUTES
from services.enrolment.http import ROUTES as ENROLMENT_ROUTES
from shared.consumer import DatabaseUnavailable, Fault, InvalidEvent, classify
from shared.events import Envelope, storable
from shared.metrics import Metrics
from shared.supervision import Supervisor


def restarts(metrics: Metrics, task: str) -> float:
    value = metrics.registry.get_sample_value(
        "tweestap_task_restarts_total", {"service": "t", "zone": "a", "task": task}
    )
    return value or 0.0


async def test_a_failing_task_is_restarted_counted_and_reported_while_down() -> None:
    metrics = Metrics("t", "a")
    supervisor = Supervisor(metrics, backoff=0.2, max_backoff=1.0)
    runs: list[int] = []
    running = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise RuntimeError(f"boom {len(runs)}")
        running.set()
        await asyncio.Event().wait()

    task = supervisor.spawn(flaky, "flaky")
    try:
        await asyncio.sleep(0.05)
        assert supervisor.failing() == {"flaky": "RuntimeError: boom 1"}
        await asyncio.wait_for(running.wait(), 3)
        assert len(runs) == 3 and restarts(metrics, "flaky") == 2
        assert supervisor.failing() == {}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_task_that_returns_is_restarted_too_and_a_probe_is_heard() -> None:
    metrics = Metrics("t", "a")
    supervisor = Supervisor(metrics, backoff=5.0, max_backoff=5.0)
    trouble: list[str] = []

    async def done() -> None:
        return None

    async def forever() -> None:
        await asyncio.Event().wait()

    tasks = [
        supervisor.spawn(done, "done"),
        supervisor.spawn(forever, "consumer", lambda: trouble[0] if trouble else None),
    ]
    try:
        await asyncio.sleep(0.05)
        assert set(supervisor.failing()) == {"done"} and restarts(metrics, "done") == 1
        trouble.append("lag 20000 > 10000")
        assert supervisor.failing()["consumer"] == "lag 20000 > 10000"
        with pytest.raises(ValueError, match="already supervised"):
            supervisor.spawn(forever, "consumer")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _validation_error() -> ValidationError:
    try:
        Envelope.model_validate({})
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (OSError("connection refused"), Fault.INFRASTRUCTURE),
        (TimeoutError(), Fault.INFRASTRUCTURE),
        (asyncpg.ConnectionDoesNotExistError("gone"), Fault.INFRASTRUCTURE),
        (asyncpg.CannotConnectNowError("starting"), Fault.INFRASTRUCTURE),
        (asyncpg.InterfaceError("closed"), Fault.INFRASTRUCTURE),
        (asyncpg.SerializationError("conflict"), Fault.INFRASTRUCTURE),
        (DatabaseUnavailable("not accepting connections"), Fault.INFRASTRUCTURE),
        (asyncpg.CharacterNotInRepertoireError("0x00"), Fault.RECORD),
        (asyncpg.UniqueViolationError("taken"), Fault.RECORD),
        (_validation_error(), Fault.RECORD),
        (InvalidEvent("no"), Fault.RECORD),
        (jwt.InvalidKeyError("bad jwk"), Fault.UNKNOWN),
        (KeyError("kid"), Fault.UNKNOWN),
    ],
)
def test_whose_fault_a_failure_is(exc: BaseException, fault: Fault) -> None:
    assert classify(exc) is fault


@pytest.mark.parametrize("bad", ["a\u0000b", "a\ud800b", "\udfff"])
def test_storable_refuses_nul_and_lone_surrogates(bad: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        storable(bad)
    with pytest.raises(ValidationError, match=r"x\.0\.name: must not contain"):
        Envelope(type="t", source="s", practice="p", subject="s", data={"x": [{"name": bad}]})
    assert storable("Zoë 🙂 \u00e9") == "Zoë 🙂 \u00e9"


def _request_models() -> list[tuple[str, type[BaseModel]]]:
    routes = [*AUTH_ROUTES, *ENROLMENT_ROUTES, *CERTS_ROUTES]
    return sorted({(r.body.__name__, r.body) for r in routes if r.body is not None})


def _strings(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[tuple[str, Any]]:
    """Every string schema under ``schema`` with where it is."""
    if "$ref" in schema:
        return _strings(defs[schema["$ref"].rsplit("/", 1)[1]], defs, path)
    found: list[tuple[str, Any]] = []
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        found.append((path, schema))
    for option in schema.get("anyOf", []):
        found += _strings(option, defs, path)
    if "items" in schema:
        found += _strings(schema["items"], defs, f"{path}[]")
    for name, prop in schema.get("properties", {}).items():
        found += _strings(prop, defs, f"{path}.{name}")
    return found


@pytest.mark.parametrize(("name", "model"), _request_models())
def test_every_string_of_every_request_model_is_bounded_and_storable(
    name: str, model: type[BaseModel]
) -> None:
    schema = model.model_json_schema()
    strings = _strings(schema, schema.get("$defs", {}), name)
    unbounded = [path for path, s in strings if "maxLength" not in s and "const" not in s]
    assert not unbounded, f"strings without a max length: {unbounded}"
    plain = [
        field
        for field, info in model.model_fields.items()
        if "str" in repr(info.annotation)
        and "storable" not in repr((info.annotation, info.metadata))
    ]
    assert not plain, f"plain str fields (NUL and lone surrogates get through): {plain}"
