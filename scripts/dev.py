#!/usr/bin/env python3
"""The two README commands, runnable on a fresh machine that has only python3.

    python3 scripts/dev.py serve   # mastra-ee serve on the embedded SQLite default
    python3 scripts/dev.py test    # every test (installs what the tests need first)

Stdlib only: it finds or installs ``uv``, lets uv build the environment from
``uv.lock``, and for ``test`` installs the system peers the tests start
(PostgreSQL, Redis, Chromium, Node.js) with apt-get when they are missing and we are root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mastra-ee" / "tools"


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def run(cmd: list[str], **kwargs: object) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def apt_install(packages: list[str]) -> None:
    if not packages:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"[dev] please install: {' '.join(packages)} (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


def find_uv() -> str:
    found = shutil.which("uv") or (str(TOOLS / "bin" / "uv") if (TOOLS / "bin" / "uv").exists() else None)
    if found:
        return found
    log("installing uv into " + str(TOOLS))
    if subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], capture_output=True).returncode != 0:
        apt_install(["python3-venv", "python3-pip"])
        run([sys.executable, "-m", "venv", str(TOOLS)])
    run([str(TOOLS / "bin" / "python"), "-m", "pip", "install", "-q", "uv"])
    return str(TOOLS / "bin" / "uv")


def test_prerequisites() -> None:
    """System peers the tests start for real: nothing is mocked where a real one runs."""
    missing: list[str] = []
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not shutil.which("initdb"):
        missing.append("postgresql")
    if not shutil.which("chromium"):
        missing.append("chromium")
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if not shutil.which("node") or not shutil.which("npm"):
        missing += ["nodejs", "npm"]
    if not shutil.which("git"):
        missing.append("git")
    if missing:
        apt_install(missing)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "prereqs"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command in {"test", "prereqs"}:
        test_prerequisites()
        if command == "prereqs":
            return 0
    uv = find_uv()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": os.environ.get("UV_PYTHON_DOWNLOADS", "automatic")}
    if command == "serve":
        cmd = [uv, "run", "--locked", "--all-packages", "--no-dev", "mastra-ee", "serve", *rest]
    else:
        cmd = [uv, "run", "--locked", "--all-packages", "nox", *rest]
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
