"""Coercion of provider options, which may arrive as TOML values or env strings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError

__all__ = ["option_bool", "option_float", "option_list"]


def option_bool(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigurationError(f"Option '{key}' must be true or false, got {value!r}")


def option_float(options: Mapping[str, Any], key: str, default: float, *, minimum: float = 0) -> float:
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"Option '{key}' must be a number, got {value!r}") from None
    if number < minimum:
        raise ConfigurationError(f"Option '{key}' must be at least {minimum:g}, got {value!r}")
    return number


def option_list(options: Mapping[str, Any], key: str) -> list[str] | None:
    """Lists accept TOML arrays, JSON arrays or comma lists (env)."""
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if not isinstance(value, list | tuple):
        raise ConfigurationError(f"Option '{key}' must be a list, got {value!r}")
    return [str(item) for item in value]
