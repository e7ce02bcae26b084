"""``mastra-ee config show``: the effective configuration as TOML, secrets masked.

A small TOML writer keeps the dependency list short: settings only hold strings,
numbers, booleans, lists and nested tables. ``None`` values are left out (TOML has
no null), so the output reads back with ``tomllib`` to the same non-null settings.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ._common import add_config_option, load

MASK = "********"
SECRET_KEYS = (
    "secret",
    "password",
    "api_key",
    "license",
    "cookie_password",
    "client_secret",
    "webhook_secret",
)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("config", help="show the effective configuration")
    config_sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    config_sub.required = True
    show = config_sub.add_parser("show", help="print the effective configuration as TOML (secrets masked)")
    add_config_option(show)
    show.set_defaults(handler=run_show)


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(
        lowered == word or lowered.endswith("_" + word) or lowered.endswith(word) for word in SECRET_KEYS
    )


def mask(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: (MASK if is_secret(k) and v is not None else mask(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [mask(v) for v in data]
    return data


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    return json.dumps(str(value))


def to_toml(data: dict[str, Any], path: tuple[str, ...] = ()) -> str:
    """Scalars and lists first, then one ``[table]`` per nested dict, recursively."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict) and not _is_leaf_mapping((*path, key)):
            tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    out = []
    if path and (lines or not tables):
        out.append("[" + ".".join(_key(p) for p in path) + "]")
    out.extend(lines)
    text = "\n".join(out)
    for key, table in tables:
        sub = to_toml(table, (*path, key))
        text = f"{text}\n\n{sub}" if text else sub
    return text


def _is_leaf_mapping(path: tuple[str, ...]) -> bool:
    # Inside a provider's options, nested dicts (e.g. role_mapping) are values, not tables.
    return len(path) > 3 and path[:2] == ("auth", "options")


def settings_dict(settings: Any) -> dict[str, Any]:
    data: dict[str, Any] = settings.model_dump(mode="json")
    for field in ("auth_secret", "ee_license"):
        value = getattr(settings, field)
        data[field] = value.get_secret_value() if value is not None else None
    masked: dict[str, Any] = mask(data)
    return masked


def run_show(args: argparse.Namespace) -> int:
    settings, _, _ = load(args, with_auth=False)
    print(to_toml(settings_dict(settings)))
    return 0
