"""The ``static`` RBAC provider's options (SPEC 8.4) and the checks of its role
definitions, which the provider's constructor applies to programmatic values too.

Values come from TOML (lists, tables) or from the environment (JSON text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import PositiveInt, ValidationError, field_validator

from ..errors import ConfigurationError
from ..models import RoleDefinition
from ..options import OptionsModel, from_text

__all__ = ["StaticRBACOptions", "display_name", "parse_role_mapping", "parse_roles"]


def parse_roles(value: Any) -> list[RoleDefinition]:
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


def display_name(role_id: str) -> str:
    """``admin`` → ``Admin``; only the first letter changes (``superAdmin`` → ``SuperAdmin``)."""
    return role_id[:1].upper() + role_id[1:]


class StaticRBACOptions(OptionsModel):
    """``roles`` (default the SPEC 4.5 roles) or ``role_mapping``; ``role_field`` (user
    metadata key, default ``role``); ``default_role``; ``cache_size`` (role sets whose
    permissions are kept compiled, default 4096)."""

    provider_name = "static"

    roles: list[RoleDefinition] | None = None
    role_mapping: dict[str, list[str]] | None = None
    role_field: str = "role"
    default_role: str | None = None
    cache_size: PositiveInt = 4096

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value: Any) -> list[RoleDefinition]:
        return parse_roles(from_text(value))

    @field_validator("role_mapping", mode="before")
    @classmethod
    def _role_mapping(cls, value: Any) -> dict[str, list[str]]:
        return parse_role_mapping(from_text(value))
