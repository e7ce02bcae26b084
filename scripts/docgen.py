"""Reference pages generated from the code at docs build time (``mkdocs_hooks.py``).

* :func:`configuration_reference` — every field of :class:`~mastra.core.ee.settings.Settings`
  (environment variable, TOML key, type, default) and every provider's options model
  (``OptionsModel`` subclasses, found through the installed plugins).
* :func:`cli_reference` — every ``mastra-ee`` command, from the argparse parser.

Descriptions come from the code too: a field's ``description``, else the ``#:``
comment above it in the class body. Nothing here is copied by hand, so a new setting,
option or flag appears in the docs on the next build (``scripts/tests/test_docgen.py``
checks that every one does).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import operator
import os
import re
import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

__all__ = ["cli_reference", "configuration_reference", "options_models", "settings_rows"]

_FIELD = re.compile(r"^\s*(\w+)\s*:")
_COMMENT = re.compile(r"^\s*#:?\s?(.*)$")


def _comments(cls: type) -> dict[str, str]:
    """Field name -> the comment block right above it, in ``cls`` and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass.__module__.startswith(
            "pydantic"
        ):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        block: list[str] = []
        for line in lines:
            comment = _COMMENT.match(line)
            if comment:  # ``#:`` doc comments, and plain comments that explain a field
                block.append(comment.group(1).strip())
                continue
            field = _FIELD.match(line)
            if field and block:
                found[field.group(1)] = " ".join(block)
            block = []
    return found


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if isinstance(annotation, list):  # Callable's parameters
        return "[" + ", ".join(_type_name(arg) for arg in annotation) + "]"
    if isinstance(annotation, str):  # a Literal's values
        return repr(annotation)
    if origin is Annotated:  # validators are not part of what a user writes
        return _type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(arg) for arg in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "None"
    if annotation is SecretStr:
        return "secret"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(table)"
    if value is None or value == [] or value == {}:
        return "unset" if value is None else f"`{value!r}`"
    return f"`{value!r}`".replace("|", "\\|")


_ROLE = re.compile(r":\w+:`~?([^`]+)`")


def _cell(text: str) -> str:
    """One table cell of Markdown: reST roles and double backticks become code spans."""
    text = _ROLE.sub(r"`\1`", text).replace("``", "`")
    return text.replace("|", "\\|").replace("\n", " ")


def _describe(field: FieldInfo, comment: str | None) -> str:
    return _cell(field.description or comment or "")


def settings_rows(
    model: type[BaseModel] | None = None, env: str = "MASTRA_", toml: str = ""
) -> Iterator[tuple[str, str, str, str, str]]:
    """``(environment variable, TOML key, type, default, description)`` of every setting."""
    if model is None:
        from mastra.core.ee.settings import Settings

        model = Settings
    comments = _comments(model)
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from settings_rows(annotation, f"{env}{name.upper()}__", f"{toml}{name}.")
            continue
        variable = f"{env}{name.upper()}"
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices and isinstance(choices[0], str) and choices[0].isupper():
            variable = choices[0]
        yield (
            variable,
            f"{toml}{name}",
            _type_name(annotation),
            _default(field),
            _describe(field, comments.get(name)),
        )


def _fallback(source: Any) -> str:
    if isinstance(source, str):
        return f"`{source}`"
    if isinstance(source, operator.attrgetter):
        return "setting `" + repr(source).split("'")[1] + "`"
    return "computed by `" + getattr(source, "__name__", repr(source)).strip("_") + "`"


def options_models() -> dict[str, tuple[list[str], type[BaseModel] | None]]:
    """Provider name -> (capabilities it serves, its options model or ``None``), for the
    built-in providers and every installed plugin."""
    from mastra.core.ee.options import OptionsModel
    from mastra.core.ee.plugins import PluginRegistry

    registry = PluginRegistry()
    registry.register_builtin()
    registry.load_entry_points()
    capabilities: dict[str, list[str]] = {}
    for capability, names in registry.provider_names().items():
        for name in names:
            capabilities.setdefault(name, []).append(capability)

    def subclasses(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    # One model per provider name: the most derived of those that carry the name (the
    # built-in ``memory`` session and audit storage share MemoryOptions).
    by_name: dict[str, type[BaseModel]] = {}
    for cls in subclasses(OptionsModel):
        name = cls.provider_name
        current = by_name.get(name)
        if current is None or issubclass(cls, current):
            by_name[name] = cls
    return {name: (caps, by_name.get(name)) for name, caps in sorted(capabilities.items())}


def _options_section(name: str, capabilities: list[str], model: type[BaseModel] | None) -> list[str]:
    lines = [f"### `{name}`", ""]
    lines.append("Capabilities: " + ", ".join(f"`{cap}`" for cap in capabilities) + ".")
    if model is not None and model.__doc__:
        lines += ["", _cell(inspect.cleandoc(model.__doc__)), ""]
    if model is None:
        return [*lines, "", "No options.", ""]
    lines += [
        f"Options model: `{model.__module__}.{model.__qualname__}`.",
        "",
        f"TOML `[auth.options.{name}]`, or `MASTRA_AUTH__OPTIONS__{name.upper()}__<OPTION>`.",
        "",
    ]
    fallbacks: dict[str, tuple[Any, ...]] = dict(getattr(model, "fallbacks", {}))
    comments = _comments(model)
    lines += ["| option | type | default | when unset | description |", "| --- | --- | --- | --- | --- |"]
    for option, field in model.model_fields.items():
        key = field.alias or option
        unset = ", ".join(_fallback(source) for source in fallbacks.get(option, ()))
        lines.append(
            f"| `{key}` | {_cell(_type_name(field.annotation))} | {_default(field)} | {unset} | "
            f"{_describe(field, comments.get(option))} |"
        )
    return [*lines, ""]


def configuration_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by scripts/docgen.py from the settings and options models. -->",
        "",
        "Precedence: explicit arguments > environment > `mastra.toml` (or `--config PATH`) > defaults.",
        'Lists set through the environment are JSON (`\'["a","b"]\'`) or comma separated (`a,b`);',
        "nested settings use `__` (`MASTRA_AUTH__RATE_LIMIT__IP=20/60` is `[auth.rate_limit] ip`).",
        "",
        "## Settings",
        "",
        "| environment | TOML key | type | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for variable, key, type_name, default, description in settings_rows():
        lines.append(f"| `{variable}` | `{key}` | {_cell(type_name)} | {default} | {description} |")
    lines += [
        "",
        "## Provider options",
        "",
        "Each provider validates its options with one model: an unknown key is an error that",
        'names the closest valid one, and `"ture"` is an error, never `false`. An option left',
        "unset takes the first of its *when unset* sources that has a value, else the default.",
        "",
    ]
    for name, (capabilities, model) in options_models().items():
        lines += _options_section(name, capabilities, model)
    return "\n".join(lines)


@contextlib.contextmanager
def _columns(width: int) -> Iterator[None]:
    """argparse wraps usage lines to the terminal: a fixed width makes builds reproducible."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, helps.get(name, ""), sub))
    return found


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        names = (
            ", ".join(f"`{option}`" for option in action.option_strings)
            or f"`{action.metavar or action.dest}`"
        )
        if action.help == argparse.SUPPRESS:
            continue
        # ``%(default)s`` and friends, expanded as ``--help`` shows them
        details = argparse.HelpFormatter(parser.prog)._expand_help(action) if action.help else ""
        if action.choices:
            details += " One of: " + ", ".join(f"`{choice}`" for choice in action.choices) + "."
        default = action.default
        mentioned = "default" in details.lower()
        if action.option_strings and not mentioned and default not in (None, False, argparse.SUPPRESS, []):
            details += f" Default: `{default}`."
        rows.append(f"| {names} | {_cell(details.strip())} |")
    return rows


def _command_section(path: str, parser: argparse.ArgumentParser, summary: str, depth: int) -> list[str]:
    heading = "#" * min(depth, 4)
    lines = [f"{heading} `{path}`", ""]
    if parser.description or summary:
        lines += [_cell(parser.description or summary), ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    rows = _argument_rows(parser)
    if rows:
        lines += ["| argument | description |", "| --- | --- |", *rows, ""]
    for name, help_text, sub in _subcommands(parser):
        lines += _command_section(f"{path} {name}", sub, help_text, depth + 1)
    return lines


def cli_reference() -> str:
    from mastra.core.cli import build_parser

    with _columns(100):
        parser = build_parser()
        lines = [
            "# CLI reference",
            "",
            "<!-- Generated by scripts/docgen.py from the argparse parser of mastra-ee. -->",
            "",
            "Exit codes: 0 success, 1 failure (one line `mastra-ee <command>: <message>` on stderr),",
            "2 usage error. Every command reads `./mastra.toml` (or `--config PATH`) and the",
            "`MASTRA_*` environment like `serve` does.",
            "",
            *_command_section("mastra-ee", parser, "", 2),
        ]
    return "\n".join(lines)
