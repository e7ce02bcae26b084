"""The "Mount in FastAPI/Starlette" page's app (docs/examples/host-app/app.py, shown on
the page through a snippet) does what the page says: one Access-Control-Allow-Origin
with the host's own CORS, fail-closed guards, the EE routes in the host's /docs, and a
clean shutdown."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "docs" / "examples" / "host-app" / "app.py"
PAGE = ROOT / "docs" / "fastapi.md"
ORIGIN = "http://localhost:5173"


def load_app() -> Any:
    spec = importlib.util.spec_from_file_location("docs_host_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.chdir(tmp_path)  # ./.mastra/ (database, generated secret) of a fresh project
    for name in ("MASTRA_AUTH_SECRET", "MASTRA_ENV", "MASTRA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASTRA_TRUSTED_ORIGINS", ORIGIN)
    with TestClient(load_app(), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_the_page_shows_the_tested_app() -> None:
    assert '--8<-- "examples/host-app/app.py"' in PAGE.read_text(encoding="utf-8")


def test_guards_fail_closed_and_pass_the_owner(client: TestClient) -> None:
    assert client.get("/me").status_code == 401
    assert client.get("/").json() == {"hello": "stranger"}
    assert client.post("/agents/a1/run").status_code == 401
    r = client.post(
        "/api/auth/credentials/sign-up",
        json={"email": "owner@example.com", "password": "correct horse battery staple", "name": "Owner"},
    )
    assert r.status_code == 201, r.text
    assert client.get("/me").json()["email"] == "owner@example.com"
    assert client.get("/").json() == {"hello": "Owner"}
    run = client.post("/agents/a1/run", headers={"origin": "http://127.0.0.1"})
    assert run.status_code == 200, run.text
    assert run.json()["agent"] == "a1"


def test_one_allow_origin_on_host_and_ee_routes(client: TestClient) -> None:
    for path in ("/", "/api/auth/capabilities"):
        r = client.get(path, headers={"origin": ORIGIN})
        assert r.headers.get_list("access-control-allow-origin") == [ORIGIN], (path, r.headers)


def test_ee_routes_and_guards_are_in_the_host_openapi(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/api/auth/me" in doc["paths"]
    assert "/me" in doc["paths"]
    assert {"401", "403"} <= set(doc["paths"]["/agents/{agent_id}/run"]["post"]["responses"])
    assert "mastraBearer" in doc["components"]["securitySchemes"]


def test_readme_host_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """packages/core/README.md's "Mount in FastAPI/Starlette" example, as written (with
    the README's install line: core + Better Auth, as this session installs every package)."""
    readme = (ROOT / "packages" / "core" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Mount in FastAPI/Starlette", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # its ./.mastra (database, generated secret)
    for name in ("MASTRA_AUTH_SECRET", "MASTRA_ENV", "MASTRA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README example, as written
    with TestClient(namespace["app"], base_url="http://127.0.0.1") as client:
        assert client.get("/me").status_code == 401
        assert client.get("/").json() == {"signed_in": False}
        assert client.post("/agents/a1/run").status_code == 401
        r = client.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": "correct horse battery"},
        )
        assert r.status_code == 201, r.text
        assert client.get("/me").json() == {"email": "owner@example.com"}
        assert client.get("/").json() == {"signed_in": True}
        r = client.post("/agents/a1/run", headers={"origin": "http://127.0.0.1"})
        assert r.status_code == 200 and r.json()["agent"] == "a1"
        assert "/api/auth/me" in client.get("/openapi.json").json()["paths"]
    assert (tmp_path / ".mastra" / "secret").is_file()
