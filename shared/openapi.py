"""Each service's OpenAPI 3.1 document, built from its ``shared.http.Route`` table: path and
query parameters, request bodies, the success answer, the problem+json answers (RFC 9457) a
route can give, and its security scheme (bearer JWT, or HTTP Basic for a relying service)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.events import ID_PATTERN
from shared.problems import CONTENT_TYPE as PROBLEM_TYPE

if TYPE_CHECKING:
    from shared.http import Route

#: A path segment that is a parameter, ``{name}`` or ``{name:regex}`` (the regex may hold
#: braces, e.g. ``{16}``, as aiohttp allows).
_PARAM = re.compile(r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<regex>.+))?\}")


def _parameters(path: str) -> list[re.Match[str]]:
    return [m for segment in path.split("/") if (m := _PARAM.fullmatch(segment))]


_REF = "#/components/schemas/{model}"
#: Every answer can be 503 (the database or broker is away: ``shared.http`` middleware).
_ALWAYS = (503,)
_WITH_BODY = (400, 413, 415, 422)
_WITH_BEARER = (401, 403)
_WITH_BASIC = (401,)
_REASONS = {
    400: "Malformed request (e.g. the body is not JSON)",
    401: "Not authenticated",
    403: "Not allowed for this token",
    404: "No such resource",
    409: "Conflicts with the current state",
    410: "No longer valid",
    413: "Body too large",
    415: "Body is not application/json",
    422: "The request is not valid (``errors`` names the fields)",
    423: "Locked",
    429: "Too many requests (``Retry-After``)",
    503: "Unavailable: retry or use the other zone (``Retry-After``)",
}

#: RFC 6749 §5.2's error answer (and RFC 6750 §3's), for OAuth's endpoints.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
    },
    "additionalProperties": True,
}
FORM_TYPE = "application/x-www-form-urlencoded"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; extension members never hold secrets.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "retry_after": {"type": "integer"},
    },
    "additionalProperties": True,
}


def path_parameters(path: str) -> list[dict[str, Any]]:
    """The path's ``{name}`` parameters: a string with the route's own regex, else the id
    pattern every id in the path is held to (``shared.http.path_id``)."""
    return [
        {
            "name": m["name"],
            "in": "path",
            "required": True,
            "schema": {
                "type": "string",
                "pattern": f"^(?:{m['regex']})$" if m["regex"] else ID_PATTERN,
            },
        }
        for m in _parameters(path)
    ]


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One query parameter per field of ``model`` (its alias if it has one)."""
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def error_statuses(route: Route) -> list[int]:
    """The problem+json statuses ``route`` can answer with."""
    codes = set(_ALWAYS) | set(route.errors)
    if route.body is not None:
        codes |= set(_WITH_BODY)
    if route.form is not None:
        codes.add(413)
    if route.query is not None:
        codes.add(422)
    if _parameters(route.path):
        codes.add(404)
    if route.bearer:
        codes |= set(_WITH_BEARER)
    if route.basic:
        codes |= set(_WITH_BASIC)
    return sorted(codes)


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schemas[model.__name__] = model.model_json_schema(ref_template=_REF)
    return {"$ref": _REF.format(model=model.__name__)}


def _success(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    if route.status == 204:
        return {"description": "No content"}
    if route.content_type != "application/json":
        schema: dict[str, Any] = {"type": "string"}
    elif route.response is not None:
        schema = _ref(route.response, schemas)
    else:
        schema = {"type": "object"}
    return {"description": "OK", "content": {route.content_type: {"schema": schema}}}


def operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {str(route.status): _success(route, schemas)}
    for code in error_statuses(route):
        content = {PROBLEM_TYPE: {"schema": {"$ref": _REF.format(model="Problem")}}}
        if route.oauth and code in route.errors:
            content = {"application/json": {"schema": {"$ref": _REF.format(model="OAuthError")}}}
        responses[str(code)] = {"description": _REASONS.get(code, "Error"), "content": content}
    op: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{route.handler.__name__}",
        "summary": route.summary,
        "responses": responses,
    }
    params = path_parameters(route.path)
    if route.query is not None:
        params += query_parameters(route.query)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body, schemas)}},
        }
    elif route.form is not None:
        op["requestBody"] = {
            "required": True,
            "content": {FORM_TYPE: {"schema": _ref(route.form, schemas)}},
        }
    if route.bearer:
        op["security"] = [{"bearer": []}]
    elif route.basic:
        op["security"] = [{"client": []}]
    return op


def openapi(title: str, routes: Sequence[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {
        "Problem": dict(PROBLEM_SCHEMA),
        "OAuthError": dict(OAUTH_ERROR_SCHEMA),
    }
    for r in routes:
        path = "/".join(
            "{" + m["name"] + "}" if (m := _PARAM.fullmatch(segment)) else segment
            for segment in r.path.split("/")
        )
        paths.setdefault(path, {})[r.method.lower()] = operation(r, schemas)
    for schema in list(schemas.values()):
        schemas.update(schema.pop("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "client": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "A registered relying service (RFC 7662 §2.1)",
                },
            },
        },
    }
