"""Coercion of provider options, which may arrive as TOML values or env strings."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError
from ._keys import ChainKeys

__all__ = ["UNKEYED_WARNING", "chain_options", "option_bool", "option_float", "option_list"]

UNKEYED_WARNING = (
    "MASTRA_AUTH_SECRET is not set: the audit chain is unkeyed (plain SHA-256), so anyone "
    "who can write to the database can rewrite it undetected, and no signed checkpoints are logged"
)


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


def chain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of a storage for the keyed chain and its checkpoints (S28):
    keys from ``_settings`` (``MASTRA_AUTH_SECRET``, ``MASTRA_AUTH_PREVIOUS_SECRETS``),
    ``checkpoint_events`` (default 1000) and ``checkpoint_minutes`` (default 5)."""
    keys = ChainKeys.from_settings(options.get("_settings"))
    if not keys.keyed:
        logging.getLogger("mastra.ee.audit").warning(UNKEYED_WARNING)
    return {
        "chain_keys": keys,
        "checkpoint_events": int(option_float(options, "checkpoint_events", 1000)),
        "checkpoint_minutes": option_float(options, "checkpoint_minutes", 5),
    }
