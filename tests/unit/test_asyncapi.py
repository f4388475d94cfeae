"""docs/asyncapi.yaml says what is on the bus: every topic of ``shared.topics.ALL`` is a channel
(and no other), and every event whose data has a pydantic model in ``shared.events`` has a
message whose payload has the same fields, required fields and types as the model's JSON
schema (normalised: types, not descriptions or limits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from shared import events
from shared.directory_trust import TAG
from shared.topics import ALL
from shared.trust import SIGNATURE

DOC = yaml.safe_load((Path(__file__).parents[2] / "docs" / "asyncapi.yaml").read_text())
#: Event type (the message's ``name``) → the model of its ``data``.
DATA_MODELS: dict[str, type[BaseModel]] = {
    "practice.upserted": events.PracticeUpserted,
    "employee.upserted": events.EmployeeUpserted,
    "credential.password": events.PasswordCredential,
    "sts.key.published": events.SigningKeyPublished,
    "factor.credential": events.FactorCredential,
    "certificate.upserted": events.CertificateUpserted,
    "fallback.used": events.FallbackUsed,
    "session.revoked": events.SessionRevoked,
    "sessions.revoked": events.SessionsRevoked,
    "notify.requested": events.NotifyRequest,
    "notify.result": events.NotifyResult,
}
#: Members a writer puts in ``data`` beside the model's fields (consumers validate the model and
#: read these apart): the trust layer's ``signature`` and ``tag`` (docs/security.md) and the
#: audit trail's ``actor``, ``change`` and ``employee``. They must be documented too.
WIRE_EXTRAS: dict[str, set[str]] = {
    "sts.key.published": {SIGNATURE},
    "employee.upserted": {TAG, "actor"},
    "practice.upserted": {"actor"},
    "certificate.upserted": {"actor", "change", "employee"},
}
Shape = dict[str, Any]


def resolve(schema: Any, root: dict[str, Any]) -> Any:
    """``schema`` with local ``$ref`` followed (pydantic's ``$defs`` or the document's)."""
    while isinstance(schema, dict) and "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def types(schema: Any, root: dict[str, Any]) -> frozenset[str]:
    """The JSON types a property may have, ``null`` left out (optional is ``required``'s)."""
    found = _types(schema, root)
    return found - {"null"} or found


def _types(schema: Any, root: dict[str, Any]) -> frozenset[str]:
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return frozenset({"any"})
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return frozenset().union(*(_types(s, root) for s in schema[combinator]))
    if "allOf" in schema:
        return frozenset().union(*(_types(s, root) for s in schema["allOf"]))
    kind = schema.get("type")
    if isinstance(kind, list):
        found = frozenset(kind)
    elif kind is not None:
        found = frozenset({kind})
    elif "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        found = frozenset(_json_type(v) for v in values)
    elif "properties" in schema:
        found = frozenset({"object"})
    else:
        found = frozenset({"any"})
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def shape(schema: Any, root: dict[str, Any]) -> Shape:
    """An object schema reduced to its property names, required names and property types
    (an ``allOf`` of objects merged)."""
    schema = resolve(schema, root)
    properties: dict[str, Any] = {}
    required: set[str] = set()
    for part in schema.get("allOf", [schema]):
        part = resolve(part, root)
        properties.update(part.get("properties", {}))
        required |= set(part.get("required", ()))
    return {
        "properties": {name: sorted(types(p, root)) for name, p in properties.items()},
        "required": sorted(required),
    }


def model_shape(model: type[BaseModel]) -> Shape:
    schema = model.model_json_schema()
    return shape(schema, schema)


def message(name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        m for m in DOC["components"]["messages"].values() if m.get("name") == name
    ]
    assert len(found) == 1, f"{name}: {len(found)} messages in docs/asyncapi.yaml"
    return found[0]


def data_schema(name: str) -> Any:
    """The ``data`` schema of message ``name``'s payload (an ``allOf`` of the envelope and the
    message's own properties)."""
    payload = resolve(message(name)["payload"], DOC)
    for part in reversed(payload.get("allOf", [payload])):
        data = resolve(part, DOC).get("properties", {}).get("data")
        if data is not None:
            return data
    raise AssertionError(f"{name}: no data in its payload")


def test_every_topic_is_a_channel_and_every_channel_a_topic() -> None:
    addresses = {channel["address"] for channel in DOC["channels"].values()}
    assert addresses == {topic.name for topic in ALL}


@pytest.mark.parametrize("name", sorted(DATA_MODELS))
def test_message_data_matches_its_pydantic_model(name: str) -> None:
    documented = shape(data_schema(name), DOC)
    extras = WIRE_EXTRAS.get(name, set())
    assert extras <= set(documented["properties"]), "undocumented members beside the model"
    documented["properties"] = {
        field: kinds for field, kinds in documented["properties"].items() if field not in extras
    }
    documented["required"] = [field for field in documented["required"] if field not in extras]
    assert documented == model_shape(DATA_MODELS[name])


def test_the_envelope_matches_its_pydantic_model() -> None:
    """Same fields and types; the document also requires the fields with a default, because a
    writer always sends them."""
    documented = shape(DOC["components"]["schemas"]["Envelope"], DOC)
    model = model_shape(events.Envelope)
    assert documented["properties"] == model["properties"]
    assert set(documented["required"]) == set(events.Envelope.model_fields)


def test_every_data_model_is_checked() -> None:
    """A new event model in shared.events must get a line in DATA_MODELS (and the document)."""
    helpers = {
        events.Envelope,
        events.FieldStamp,
        events.Versioned,
        events.PasswordPolicy,
        events.Actor,
    }
    models = {
        value
        for value in vars(events).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == events.__name__
    }
    assert models - helpers == set(DATA_MODELS.values())
