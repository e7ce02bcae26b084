"""``mastra-ee config show [--json]``: the effective configuration as TOML (or JSON),
secrets masked.

A small TOML writer keeps the dependency list short: settings only hold strings,
numbers, booleans, lists and nested tables. ``None`` values are left out (TOML has
no null), so the output reads back with ``tomllib`` to the same non-null settings.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ._command import add_config_option, add_json_option, load

MASK = "********"
# Substrings of a key, lower-cased with "_" and "-" removed, that mark a secret: plurals
# and prefixes count (previous_secrets, access_tokens, private_key, apiKey, ee_license).
# Not the audit log's is_secret_key: that one also hides "credentials" and "cookie*",
# which here are the capability selection and cookie settings an operator needs to read.
SECRET_WORDS = ("secret", "password", "passwd", "passphrase", "token", "key", "license")
# scheme://user:password@... The password runs to the last "@": an unencoded "@" or "/"
# inside it must not leave a tail showing (SQLAlchemy ends it at the first "@", urllib
# at the first "/"; hiding the longer span is safe under both readings).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:).+@", re.DOTALL)
# Keys directly under [auth.options] are provider names, not option names.
_PROVIDER_TABLES = ("auth", "options")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("config", help="show the effective configuration")
    config_sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    config_sub.required = True
    show = config_sub.add_parser("show", help="print the effective configuration as TOML (secrets masked)")
    add_config_option(show)
    add_json_option(show)
    show.set_defaults(handler=run_show)


def is_secret(key: str) -> bool:
    squashed = key.lower().replace("_", "").replace("-", "")
    return any(word in squashed for word in SECRET_WORDS)


def mask_url_password(text: str) -> str:
    """``postgresql://user:pw@host/db`` → ``postgresql://user:********@host/db``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)


def mask(data: Any, path: tuple[str, ...] = ()) -> Any:
    """Secret-named entries hidden whole (lists and nested tables too); every other
    string keeps its text with any URL password hidden."""
    if isinstance(data, dict):
        return {
            key: _hide(value) if path != _PROVIDER_TABLES and is_secret(key) else mask(value, (*path, key))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask(value, path) for value in data]
    if isinstance(data, str):
        return mask_url_password(data)
    return data


def _hide(value: Any) -> Any:
    # None is left out of the TOML anyway; a boolean (query_token = true) carries no secret.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {key: _hide(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_hide(item) for item in value]
    return MASK


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
    data = settings_dict(settings)
    print(json.dumps(data, indent=2) if args.json else to_toml(data))
    return 0
