"""The example provider package of ``docs/plugins.md`` works as the guide says.

Its own tests (``docs/examples/hello-provider/tests``: the user conformance suite and a
composition through ``build_auth``) run here, imported from that file; the tests below
serve it through the HTTP API and check that the guide shows those files verbatim.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastra.core.ee import PluginRegistry, Settings, build_auth
from mastra.core.server import create_app

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "hello-provider"
GUIDE = ROOT / "docs" / "plugins.md"
# The example is a package of its own: its src/ joins the ``mastra.auth`` namespace.
sys.path.insert(0, str(EXAMPLE / "src"))


def _load_example_tests() -> Any:
    spec = importlib.util.spec_from_file_location("hello_provider_tests", EXAMPLE / "tests" / "test_hello.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_example = _load_example_tests()
TestHelloUsers = _example.TestHelloUsers
test_the_host_selects_and_composes_it = _example.test_the_host_selects_and_composes_it


def test_example_is_a_handful_of_files() -> None:
    files = sorted(
        str(p.relative_to(EXAMPLE))
        for p in EXAMPLE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert files == ["pyproject.toml", "src/mastra/auth/hello/__init__.py", "tests/test_hello.py"]


@pytest.mark.parametrize(
    "name", ["pyproject.toml", "src/mastra/auth/hello/__init__.py", "tests/test_hello.py"]
)
def test_guide_shows_the_example_files_verbatim(name: str) -> None:
    assert (EXAMPLE / name).read_text().strip() in GUIDE.read_text()


async def test_example_provider_signs_in_through_the_http_api() -> None:
    from mastra.auth.hello import HelloAuth, plugin

    secret = "hello-http-secret-0123456789abcdef"
    settings = Settings(
        auth={"user": "hello", "options": {"hello": {"secret": secret}}},
        auth_secret="s" * 40,
        database_url="sqlite+aiosqlite:///:memory:",
    )
    registry = PluginRegistry.default(settings, load_entry_points=False)
    registry.register(plugin, "hello", distribution="mastra-auth-hello")
    auth = build_auth(settings, registry)
    assert isinstance(auth.user, HelloAuth)
    token = auth.user.mint_token("ann@example.com")
    app = create_app(settings, auth=auth, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        signed_in = await client.get("/api/auth/capabilities", headers={"Authorization": f"Bearer {token}"})
        forged = await client.get("/api/auth/capabilities", headers={"Authorization": f"Bearer {token}x"})
    assert signed_in.status_code == 200
    assert signed_in.json()["user"] == {"id": "ann@example.com", "email": "ann@example.com", "name": "ann"}
    assert "user" not in forged.json()
