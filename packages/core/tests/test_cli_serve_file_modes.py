"""S27 on the ``serve`` path: ``.mastra`` ends 0700 and the database 0600, also for a
project directory left by an earlier run with looser modes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mastra.core.cli._serve import ensure_secret
from mastra.core.testing.reference import ServeProcess, reference_serve_env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _umask_022() -> Iterator[None]:
    previous = os.umask(0o022)  # inherited by the serve subprocess
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("with_secret", [True, False], ids=["secret-kept", "secret-generated"])
def test_ensure_secret_makes_an_existing_directory_0700(tmp_path: Path, with_secret: bool) -> None:
    directory = tmp_path / ".mastra"
    directory.mkdir(mode=0o755)
    if with_secret:
        (directory / "secret").write_text("s" * 48 + "\n")
    secret = ensure_secret(directory / "secret")
    assert len(secret) == 48
    assert mode(directory) == 0o700


@pytest.mark.slow
def test_serve_leaves_directory_0700_and_database_0600(tmp_path: Path) -> None:
    """An earlier run left ``.mastra`` 0755 with its secret; ``serve`` (reference user
    provider, cookie sessions on the SQL registry) then signs a user up."""
    directory = tmp_path / ".mastra"
    directory.mkdir(mode=0o755)
    (directory / "secret").write_text("r" * 48 + "\n")
    env = reference_serve_env()
    server = ServeProcess(tmp_path, env)
    server.env = env
    with server:
        r = httpx.post(
            server.url + "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": "correct horse battery"},
            headers={"origin": server.url},
        )
        assert r.status_code == 201, r.text
    assert server.returncode == 0, server.stderr[-2000:]
    assert mode(directory) == 0o700
    assert mode(directory / "mastra.db") == 0o600
