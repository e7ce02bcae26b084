"""The container files (issue #12): ``Dockerfile`` (non-root, ``mastra-ee serve``, health
check on ``/system/health``) and ``compose.yaml`` (PostgreSQL, healthy before the server).

The static checks always run; building and starting them needs a Docker daemon and is
skipped, saying why, where there is none."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mastra.core.ee.settings import Settings
from mastra.core.server.routes import api_routes
from mastra.core.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
HEALTH = "/system/health"


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def health_path() -> str:
    prefix = Settings().normalised_api_prefix  # the image keeps the default prefix
    assert any(route.path == HEALTH and route.method == "GET" for route in api_routes())
    return prefix + HEALTH


def test_dockerfile_runs_serve_as_an_unprivileged_user() -> None:
    stage = final_stage()
    users = [args for word, args in stage if word == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    name = users[-1].split(":")[0]
    assert name not in {"root", "0"}
    assert any(word == "RUN" and "useradd" in args for word, args in stage)
    entry = json.loads(next(args for word, args in stage if word == "ENTRYPOINT"))
    assert entry[:2] == ["mastra-ee", "serve"]
    command = json.loads(next(args for word, args in stage if word == "CMD"))
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - a container's interface
    env = " ".join(args for word, args in stage if word == "ENV")
    assert "MASTRA_HOST=0.0.0.0" in env
    assert any(word == "VOLUME" and "/data" in args for word, args in stage)
    assert sum(1 for word, _ in instructions() if word == "FROM") >= 2, "multi-stage build"


def test_healthchecks_probe_the_health_route_that_exists() -> None:
    path = health_path()
    healthcheck = next(args for word, args in final_stage() if word == "HEALTHCHECK")
    assert HEALTH in healthcheck and "/api" in healthcheck
    service = compose()["services"]["mastra"]
    assert path in " ".join(service["healthcheck"]["test"])


def test_compose_waits_for_a_healthy_postgres() -> None:
    services = compose()["services"]
    mastra, db = services["mastra"], services["db"]
    assert mastra["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    url = mastra["environment"]["MASTRA_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://") and "@db:5432/" in url
    assert mastra["build"] == "."


# -- the real thing, where Docker is available --------------------------------------------


def _docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return "no Docker daemon: " + (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
    return None


@pytest.mark.slow
def test_compose_builds_and_serves() -> None:
    reason = _docker_unavailable()
    if reason is not None:
        pytest.skip(f"{reason} (the container files are checked statically above)")
    port = free_port()
    env = {
        **os.environ,
        "MASTRA_AUTH_SECRET": "compose-test-secret-" + "x" * 24,
        "MASTRA_PUBLISH_PORT": str(port),
    }
    project = ["docker", "compose", "-f", str(COMPOSE), "-p", f"mastra-ee-test-{port}"]
    try:
        subprocess.run([*project, "up", "--build", "--detach", "--wait"], env=env, check=True, timeout=900)
        base = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 60
        while True:
            ready = httpx.get(f"{base}/system/ready", headers={"host": "localhost"}, timeout=5)
            if ready.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}
        whoami = [*project, "exec", "-T", "mastra", "id", "-u"]
        uid = subprocess.run(whoami, env=env, capture_output=True, text=True, check=True)
        assert uid.stdout.strip() != "0"
    finally:
        subprocess.run([*project, "down", "--volumes"], env=env, capture_output=True, timeout=300)
