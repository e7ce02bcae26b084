"""``mastra-ee serve`` startup behaviour (SPEC 1.4) against a real subprocess."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from mastra.core.cli import build_parser, main
from mastra.core.cli._serve import SECRET_WARNING, ensure_secret
from mastra.core.testing.reference import ServeProcess

pytestmark = pytest.mark.slow


def test_generated_secret_file_and_core_only_startup(tmp_path: Path) -> None:
    """Core alone (provider plugins blocked): the secret is generated once, auth is
    disabled with the SPEC warning, and the capabilities say so."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    env["MASTRA_EE_DISABLED_PLUGINS"] = "better,workos,cloud"
    server = ServeProcess(tmp_path, env)
    server.env = env
    with server:
        caps = httpx.get(server.url + "/api/auth/capabilities").json()
        assert caps == {"enabled": False, "login": None}
    assert server.returncode == 0  # Ctrl-C stops cleanly
    assert "No auth provider installed; authentication is disabled" in server.stderr
    secret = tmp_path / ".mastra" / "secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    value = secret.read_text().strip()
    assert len(value) == 48 and all(c.isalnum() or c in "-_" for c in value)
    assert SECRET_WARNING in server.stderr
    assert f"Mastra EE studio: http://127.0.0.1:{server.port}/" in server.stdout
    # Second start reuses the file and does not warn again.
    second = ServeProcess(tmp_path, env)
    second.env = env
    with second:
        pass
    assert SECRET_WARNING not in second.stderr and secret.read_text().strip() == value


def test_ensure_secret_reuses_file(tmp_path: Path) -> None:
    path = tmp_path / "s" / "secret"
    first = ensure_secret(path)
    assert ensure_secret(path) == first


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--port", "not-a-number"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "serve" in build_parser().format_help()


def test_bad_configuration_exits_1(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "MASTRA_AUTH__USER": "no-such-provider", "MASTRA_AUTH_SECRET": "s" * 40}
    result = subprocess.run(
        [sys.executable, "-m", "mastra.core.cli", "serve", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Unknown provider 'no-such-provider' for MASTRA_AUTH__USER" in result.stderr
