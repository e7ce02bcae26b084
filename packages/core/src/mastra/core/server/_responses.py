"""Response helpers: JSON errors, validation issues, separate ``Set-Cookie`` headers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..ee.errors import error_body

__all__ = [
    "BodyError",
    "add_headers",
    "error_body",
    "error_response",
    "json_response",
    "parse_body",
    "parse_query",
    "validation_response",
]


def json_response(
    content: Any, status: int = 200, *, headers: Iterable[tuple[str, str]] = ()
) -> JSONResponse:
    response = JSONResponse(content, status_code=status)
    add_headers(response, headers)
    return response


def error_response(
    error: str,
    status: int,
    *,
    message: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> JSONResponse:
    """``{"error", "message"}`` (SPEC 9): the reference Studio shows ``message``, so a
    body that names only ``error`` repeats it there."""
    return json_response(error_body(error, message), status, headers=headers)


def add_headers(response: Response, headers: Iterable[tuple[str, str]]) -> None:
    """Append raw headers; several ``Set-Cookie`` values stay separate headers."""
    for name, value in headers:
        response.raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))


def _issues(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"path": list(err["loc"]), "message": err["msg"], "code": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def validation_response(issues: list[dict[str, Any]]) -> JSONResponse:
    return json_response({**error_body("Invalid request"), "issues": issues}, 400)


class BodyError(Exception):
    """A request body or query that failed validation; carries the issue list."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__("invalid request")
        self.issues = issues


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BodyError(_issues(exc)) from None


def parse_body(raw: bytes, model: type[BaseModel]) -> BaseModel:
    try:
        data = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nesting deeper than the interpreter's stack (``[`` * 100000).
        # Whatever way a body fails to parse, it is the client's error (S25).
        raise BodyError([{"path": [], "message": "Invalid JSON", "code": "json_invalid"}]) from None
    if not isinstance(data, dict):
        raise BodyError([{"path": [], "message": "Expected a JSON object", "code": "object_type"}])
    return _validate(model, data)


def parse_query(request: Request, model: type[BaseModel]) -> BaseModel:
    """Repeated keys become lists only for fields declared as lists by the model."""
    data: dict[str, Any] = {}
    multi = getattr(model, "multi_value_fields", ())
    for key, value in request.query_params.multi_items():
        if key in multi:
            data.setdefault(key, []).append(value)
        elif key not in data:
            data[key] = value
    return _validate(model, data)
