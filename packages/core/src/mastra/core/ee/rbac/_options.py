"""Parsing of the ``static`` RBAC provider's options (SPEC 8.4).

Values may come from TOML (lists, tables) or from the environment (JSON strings), so
both forms are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigurationError
from ..models import RoleDefinition

__all__ = ["display_name", "parse_optional_str", "parse_role_mapping", "parse_roles"]


def _maybe_json(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"static RBAC option '{what}' is not valid JSON: {exc.msg}") from exc
    return value


def parse_roles(value: Any) -> list[RoleDefinition]:
    value = _maybe_json(value, "roles")
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigurationError("static RBAC option 'roles' must be a list of role definitions")
    roles: list[RoleDefinition] = []
    for index, item in enumerate(value):
        if isinstance(item, RoleDefinition):
            roles.append(item.model_copy(deep=True))
            continue
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"static RBAC option 'roles[{index}]' must be a table/object")
        data = dict(item)
        data.setdefault("name", display_name(str(data.get("id", ""))))
        try:
            roles.append(RoleDefinition.model_validate(data))
        except ValidationError as exc:
            raise ConfigurationError(f"static RBAC option 'roles[{index}]' is invalid: {exc}") from exc
    ids = [r.id for r in roles]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigurationError(f"static RBAC roles are defined twice: {', '.join(duplicates)}")
    if any("," in i or not i.strip() for i in ids):
        raise ConfigurationError("static RBAC role ids must be non-empty and contain no comma")
    return roles


def parse_role_mapping(value: Any) -> dict[str, list[str]]:
    value = _maybe_json(value, "role_mapping")
    if not isinstance(value, Mapping):
        raise ConfigurationError("static RBAC option 'role_mapping' must be a table/object")
    mapping: dict[str, list[str]] = {}
    for key, perms in value.items():
        if isinstance(perms, str) or not isinstance(perms, Sequence):
            raise ConfigurationError(f"static RBAC role_mapping['{key}'] must be a list of permissions")
        if "," in str(key) or not str(key).strip():
            raise ConfigurationError("static RBAC role ids must be non-empty and contain no comma")
        mapping[str(key)] = list(perms)
    return mapping


def parse_optional_str(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"static RBAC option '{what}' must be a string")
    return value.strip()


def display_name(role_id: str) -> str:
    """``admin`` → ``Admin``; only the first letter changes (``superAdmin`` → ``SuperAdmin``)."""
    return role_id[:1].upper() + role_id[1:]
