"""OpenAPI 3.1 document for every route under the prefix (``{prefix}/openapi.json``).

Built from the same :class:`RouteTable` the middleware uses, so the document cannot
drift from what is served. Bodies and queries come from the pydantic models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ._spec import ApiRoute, RouteTable

__all__ = ["build_openapi"]

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error"],
}


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if prop.get("type") == "array" or any(p.get("type") == "array" for p in prop.get("anyOf", [])):
            param["style"], param["explode"] = "form", True
        params.append(param)
    return params


def _operation_id(route: ApiRoute) -> str:
    slug = route.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
    return f"{route.method.lower()}_{slug}"


def _operation(route: ApiRoute, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary or f"{route.method} {route.path}",
        "tags": [route.tag],
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in route.param_names
    ]
    if route.query is not None:
        params.extend(_query_parameters(route.query))
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _model_schema(route.body, components)}},
        }
    responses: dict[str, Any] = {}
    for status, description in sorted((route.responses or {200: "OK"}).items()):
        entry: dict[str, Any] = {"description": description}
        if status >= 400:
            entry["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        responses[str(status)] = entry
    if route.requires_auth and "401" not in responses:
        responses["401"] = {"description": "Unauthenticated"}
    op["responses"] = responses
    if route.requires_auth:
        op["security"] = [{"bearer": []}, {"cookie": []}]
    else:
        op["security"] = []
    if route.permission not in (None, False):
        op["x-permission"] = route.permission
    return op


def build_openapi(
    table: RouteTable, prefix: str, *, title: str = "Mastra EE API", version: str = "0.1.0"
) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for route in table.routes:
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "mastra_session"},
            },
        },
    }
