"""shared.openapi: what a Route declares becomes the operation's parameters, answers and
security in the document."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from shared.events import ID_PATTERN
from shared.http import Route
from shared.openapi import openapi


class Thing(BaseModel):
    name: str


class Filter(BaseModel):
    since: str | None = Field(default=None, alias="from")
    limit: int = 10


async def handler(request: web.Request) -> web.Response:
    return web.Response(status=204)


def operation(route: Route) -> Any:
    document = openapi("t", [route])
    (path,) = document["paths"]
    return document["paths"][path][route.method.lower()]


def test_path_parameters_are_declared_with_the_pattern_the_route_enforces() -> None:
    route = Route("GET", "/v1/things/{p}/{nr:[0-9a-f]{16}}", handler, "s", response=Thing)
    document = openapi("t", [route])
    assert list(document["paths"]) == ["/v1/things/{p}/{nr}"]
    params = {p["name"]: p for p in document["paths"]["/v1/things/{p}/{nr}"]["get"]["parameters"]}
    assert params["p"]["in"] == "path" and params["p"]["required"]
    assert params["p"]["schema"] == {"type": "string", "pattern": ID_PATTERN}
    assert params["nr"]["schema"]["pattern"] == "^(?:[0-9a-f]{16})$"


def test_query_parameters_come_from_the_query_model_by_alias() -> None:
    op = operation(Route("GET", "/v1/list", handler, "s", response=Thing, query=Filter))
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"from", "limit"}
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert "422" in op["responses"]


def test_answers_success_status_and_problems_by_the_route_shape() -> None:
    op = operation(
        Route("DELETE", "/v1/x/{e}", handler, "s", bearer=True, status=204, errors=(409,))
    )
    responses = op["responses"]
    assert set(responses) == {"204", "401", "403", "404", "409", "503"}
    assert "content" not in responses["204"]
    problem = responses["409"]["content"]
    assert problem == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert op["security"] == [{"bearer": []}]


def test_a_body_adds_its_schema_and_the_body_problems() -> None:
    document = openapi("t", [Route("POST", "/v1/x", handler, "s", Thing, Thing, status=201)])
    op = document["paths"]["/v1/x"]["post"]
    assert set(op["responses"]) == {"201", "400", "413", "415", "422", "503"}
    assert op["requestBody"]["required"]
    assert "Thing" in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]


def test_relying_service_routes_use_http_basic() -> None:
    document = openapi("t", [Route("POST", "/v1/i", handler, "s", Thing, Thing, basic=True)])
    assert document["paths"]["/v1/i"]["post"]["security"] == [{"client": []}]
    assert document["components"]["securitySchemes"]["client"]["scheme"] == "basic"


def test_a_non_json_answer_has_its_own_media_type() -> None:
    op = operation(Route("GET", "/v1/e", handler, "s", content_type="application/x-ndjson"))
    assert list(op["responses"]["200"]["content"]) == ["application/x-ndjson"]
