"""asyncpg is the ``postgres`` extra of mastra-core: SQLite users do not install it, so
nothing may import it eagerly, and a PostgreSQL URL without it says which extra to add."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mastra.core.ee.db import get_engine
from mastra.core.ee.errors import ConfigurationError

# Every module of the distribution, imported with asyncpg unavailable.
IMPORT_ALL = """
import importlib, pkgutil, sys
sys.modules["asyncpg"] = None
import mastra.core
for module in pkgutil.walk_packages(mastra.core.__path__, "mastra.core."):
    if not module.name.endswith(".__main__"):  # runs the CLI
        importlib.import_module(module.name)
print("imported", len(sys.modules))
"""


def test_every_core_module_imports_without_asyncpg() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("imported")


def test_postgres_url_without_asyncpg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if never installed
    with pytest.raises(ConfigurationError) as caught:
        get_engine("postgresql+asyncpg://postgres@127.0.0.1:1/missing-driver")
    message = str(caught.value)
    assert "asyncpg" in message
    assert "pip install 'mastra-core[postgres]'" in message
