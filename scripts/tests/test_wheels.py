"""The distributions as users get them: built wheels, installed into a fresh virtualenv,
running the quickstart of docs/quickstart.md exactly as written (``mastra-ee --help``,
``mastra-ee serve`` on the embedded SQLite default, the first owner's sign-up, then
``/api/auth/me``). Also: every wheel ships LICENSE and py.typed, and mastra.core
imports without asyncpg (the ``postgres`` extra)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import dev  # noqa: E402  (scripts/dev.py: finds or installs uv as the README commands do)

pytestmark = pytest.mark.slow

QUICKSTART = ROOT / "docs" / "quickstart.md"
DISTRIBUTIONS = {
    "mastra_core": "mastra/core/py.typed",
    "mastra_auth_better": "mastra/auth/better/py.typed",
    "mastra_auth_workos": "mastra/auth/workos/py.typed",
    "mastra_auth_cloud": "mastra/auth/cloud/py.typed",
}


def run(*cmd: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{cmd}: {result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run(dev.find_uv(), "build", "--all-packages", "--wheel", "--out-dir", out, "--quiet", cwd=ROOT)
    found = {}
    for wheel in out.glob("*.whl"):
        found[wheel.name.split("-")[0]] = wheel
    assert set(found) == set(DISTRIBUTIONS), sorted(found)
    return found


@pytest.fixture(scope="module")
def venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install mastra-core mastra-auth-better`` from the built wheels (third-party
    dependencies from the index): a SQLite user's install, without any extra."""
    location = tmp_path_factory.mktemp("venv") / "venv"
    uv = dev.find_uv()
    run(uv, "venv", "--quiet", "--python", sys.executable, location)
    python = location / "bin" / "python"
    run(
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        python,
        wheels["mastra_core"],
        wheels["mastra_auth_better"],
    )
    return location


def test_the_quickstart_installs_what_the_tested_commands_use() -> None:
    page = QUICKSTART.read_text(encoding="utf-8")
    assert "pip install mastra-core mastra-auth-better" in page
    assert "mastra-ee serve" in page
    assert "/api/auth/credentials/sign-up" in page
    assert "/api/auth/me" in page


def test_every_wheel_ships_the_license_and_py_typed(wheels: dict[str, Path]) -> None:
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    for name, typed in DISTRIBUTIONS.items():
        with zipfile.ZipFile(wheels[name]) as wheel:
            names = wheel.namelist()
            licenses = [n for n in names if re.search(r"\.dist-info/licenses/LICENSE$", n)]
            assert licenses, (name, names)
            assert wheel.read(licenses[0]).decode() == license_text
            assert typed in names, name
            metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
            assert "License-Expression: Apache-2.0" in metadata
            assert "Project-URL: " in metadata
            if name != "mastra_core":
                assert re.search(r"Requires-Dist: mastra-core<0\.\d+,>=0\.\d+", metadata), metadata
            else:
                assert "Requires-Dist: asyncpg>=0.30; extra == 'postgres'" in metadata
                assert not re.search(r"Requires-Dist: asyncpg[^;]*$", metadata, re.M)


def test_core_imports_without_asyncpg(venv: Path) -> None:
    code = (
        "import importlib.util, mastra.core, mastra.core.server, mastra.core.cli, mastra.auth.better\n"
        "assert importlib.util.find_spec('asyncpg') is None, 'asyncpg was installed'\n"
    )
    run(venv / "bin" / "python", "-c", code)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTRA_", "VIRTUAL_ENV", "BETTER_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_mastra_ee_help(venv: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run("mastra-ee", "--help", cwd=tmp_path, env=clean_env)
    assert "serve" in result.stdout and "users" in result.stdout


@pytest.fixture
def server(
    venv: Path, clean_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        ["mastra-ee", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{base}/api/auth/capabilities", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mastra-ee serve did not answer within 60 s"
            time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()


def test_quickstart_serve_and_first_owner(server: tuple[str, subprocess.Popen[str]], tmp_path: Path) -> None:
    base, process = server
    with httpx.Client(base_url=base, timeout=10) as client:
        anonymous = client.get("/api/auth/me")
        assert anonymous.status_code == 200 and anonymous.json() is None  # SPEC: nobody signed in
        r = client.post(
            "/api/auth/credentials/sign-up",
            json={"email": "owner@example.com", "password": "correct horse battery staple", "name": "Owner"},
        )
        assert r.status_code == 201, r.text
        me = client.get("/api/auth/me")  # the session cookie the sign-up set
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "owner@example.com"
        assert me.json()["roles"] == ["owner"]
    assert (tmp_path / ".mastra" / "mastra.db").is_file()
    assert (tmp_path / ".mastra" / "secret").is_file()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    assert process.stdout is not None
    output = process.stdout.read()
    assert "No users yet: the first account created becomes the owner" in output
    assert "Traceback" not in output
