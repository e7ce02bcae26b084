"""The generated reference pages (scripts/docgen.py, added to the site by
scripts/mkdocs_hooks.py) name every setting, every provider option and every CLI
argument. The expectations are collected here independently of the generator."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import docgen  # noqa: E402


def setting_names(model: type[BaseModel], env: str = "MASTRA_", toml: str = "") -> list[tuple[str, str]]:
    found = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += setting_names(field.annotation, f"{env}{name.upper()}__", f"{toml}{name}.")
        else:
            found.append((f"{env}{name.upper()}", f"{toml}{name}"))
    return found


@pytest.fixture(scope="module")
def configuration() -> str:
    return docgen.configuration_reference()


def test_every_setting_is_in_the_configuration_reference(configuration: str) -> None:
    from mastra.core.ee.settings import Settings

    names = setting_names(Settings)
    assert len(names) > 30
    missing = [toml for _env, toml in names if f"| `{toml}` |" not in configuration]
    assert not missing, missing
    # The two settings read under another environment name are documented under it.
    assert "`MASTRA_EE_DISABLED_PLUGINS`" in configuration
    assert "`MASTRA_EE_EXTRA_PLUGINS`" in configuration
    assert "`MASTRA_AUTH__RATE_LIMIT__SIGN_UP`" in configuration


def section(page: str, name: str) -> str:
    start = page.index(f"### `{name}`")
    end = page.find("\n### ", start + 1)
    return page[start : end if end != -1 else None]


def test_every_provider_option_is_in_its_section(configuration: str) -> None:
    from mastra.core.ee.options import OptionsModel

    # Import every installed plugin, so their options models exist.
    for entry_point in importlib.metadata.entry_points(group="mastra_ee"):
        entry_point.load()
    for name in ("better", "workos", "cloud", "oidc", "cookie", "memory", "sql", "static", "console"):
        assert f"### `{name}`" in configuration, name

    def subclasses(cls: type) -> list[type[Any]]:
        return [sub for direct in cls.__subclasses__() for sub in (direct, *subclasses(direct))]

    checked = 0
    for model in subclasses(OptionsModel):
        if f"### `{model.provider_name}`" not in configuration:
            continue  # a base class shared by several providers (its fields are in theirs)
        text = section(configuration, model.provider_name)
        for option, field in model.model_fields.items():
            assert f"| `{field.alias or option}` |" in text, (model.provider_name, option)
            checked += 1
    assert checked > 60


def test_option_fallbacks_name_their_environment_variables(configuration: str) -> None:
    assert "`WORKOS_API_KEY`" in section(configuration, "workos")
    assert "`OIDC_ISSUER`" in section(configuration, "oidc")


def walk(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += walk(sub, f"{path} {name}")
    return found


def test_every_command_and_argument_is_in_the_cli_reference() -> None:
    from mastra.core.cli import build_parser

    page = docgen.cli_reference()
    commands = walk(build_parser(), "mastra-ee")
    assert len(commands) > 10
    for path, parser in commands:
        assert f"`{path}`" in page, path
        text = page[page.index(f"`{path}`") :]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            label = action.option_strings[0] if action.option_strings else (action.metavar or action.dest)
            assert f"`{label}`" in text, (path, label)


def test_the_site_uses_the_generated_pages() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "scripts/mkdocs_hooks.py" in config
    for page in ("reference/configuration.md", "reference/cli.md"):
        assert page in config
        assert not (ROOT / "docs" / page).exists(), f"{page} is generated, not written by hand"
