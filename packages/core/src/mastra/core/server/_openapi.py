"""OpenAPI 3.1 document for every route under the prefix (``{prefix}/openapi.json``).

Built from the same :class:`RouteTable` the middleware uses, so the document cannot
drift from what is served. Bodies and queries come from the pydantic models.
:func:`merge_openapi` folds it into a host application's own document (FastAPI's
``app.openapi()``), so a host has one document with its routes and ours.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from pydantic import BaseModel

from ..ee.sessions._session_cookie import DEFAULT_COOKIE_NAME
from ._spec import ApiRoute, RouteTable

__all__ = ["SECURITY_SCHEMES", "build_openapi", "merge_openapi"]

logger = logging.getLogger("mastra.server")

BEARER_DESCRIPTION = "An API key or access token: `Authorization: Bearer <token>`."
SESSION_DESCRIPTION = "The session cookie set by sign-in (browsers send it themselves)."
#: The schemes of every authenticated route, ours and (through ``require_permission``
#: / ``current_user``) the host's; the names are distinct so a host's own schemes stay.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "mastraBearer": {"type": "http", "scheme": "bearer", "description": BEARER_DESCRIPTION},
    "mastraSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": DEFAULT_COOKIE_NAME,
        "description": SESSION_DESCRIPTION,
    },
}
SECURITY: list[dict[str, list[str]]] = [{"mastraBearer": []}, {"mastraSession": []}]

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
        op["security"] = copy.deepcopy(SECURITY)
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
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
        },
    }


def merge_openapi(
    host: dict[str, Any], ee: dict[str, Any], *, tag_prefix: str = "Mastra EE: "
) -> dict[str, str]:
    """Fold the EE document ``ee`` into ``host`` (changed in place).

    Components the host already has under the same name with other content are not
    replaced: ours are renamed (``MastraEE<Name>``) and our references follow. Our
    operation ids get a ``mastra_ee_`` prefix and our tags ``tag_prefix``, so neither
    collides with the host's. A path and method both define is documented as ours,
    since the EE routes are served first (with a warning). Returns the name each of
    our schemas has in ``host`` (``{"Error": "Error"}`` unless renamed).
    """
    ee = copy.deepcopy(ee)
    components = host.setdefault("components", {})
    renames: dict[str, dict[str, str]] = {}
    for section, entries in ee.get("components", {}).items():
        taken = components.get(section, {})
        names = renames.setdefault(section, {})
        for name, value in entries.items():
            final = name
            if name in taken and taken[name] != value:
                final = "MastraEE" + name[:1].upper() + name[1:]
                while final in taken or final in entries:
                    final += "_"
            names[name] = final
    schema_names = renames.get("schemas", {})
    _rewrite_refs(
        ee, {f"#/components/schemas/{a}": f"#/components/schemas/{b}" for a, b in schema_names.items()}
    )
    for section, entries in ee.get("components", {}).items():
        target = components.setdefault(section, {})
        for name, value in entries.items():
            target.setdefault(renames[section][name], value)
    scheme_names = renames.get("securitySchemes", {})
    tags: list[str] = []
    paths = host.setdefault("paths", {})
    for path, operations in ee.get("paths", {}).items():
        existing = paths.setdefault(path, {})
        for method, op in operations.items():
            if method in existing:
                logger.warning(
                    "%s %s is defined by the host and Mastra EE; EE's is served", method.upper(), path
                )
            op["operationId"] = "mastra_ee_" + op["operationId"]
            op["tags"] = [tag_prefix + t for t in op.get("tags", [])]
            tags.extend(t for t in op["tags"] if t not in tags)
            if "security" in op:
                op["security"] = [
                    {scheme_names.get(k, k): v for k, v in req.items()} for req in op["security"]
                ]
            existing[method] = op
    known = {t.get("name") for t in host.get("tags", [])}
    new_tags = [{"name": t} for t in tags if t not in known]
    if new_tags:
        host["tags"] = [*host.get("tags", []), *new_tags]
    return schema_names


def _rewrite_refs(node: Any, refs: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in refs:
            node["$ref"] = refs[ref]
        for value in node.values():
            _rewrite_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, refs)
