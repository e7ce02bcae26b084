"""Install npm test peers into a cache folder shared between runs.

``ensure_node_packages("better-auth", {"better-auth": "1.7.25", "better-sqlite3": "^12"})``
returns a folder with ``node_modules``; the folder name hashes the package list,
so a changed list installs afresh. better-sqlite3 compiles (~100 s) once per cache.
``mastra_core_folder()`` installs the reference ``@mastra/core`` the differential
permission tests compare against.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "MASTRA_CORE_VERSION",
    "cache_root",
    "ensure_node_packages",
    "mastra_core_folder",
    "node_available",
]

#: The published reference whose permission vocabulary and matcher SPEC 4.4 follows.
MASTRA_CORE_VERSION = "1.68.0"


def cache_root() -> Path:
    base = os.environ.get("MASTRA_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "mastra-ee-tests"
    )
    return Path(base)


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def ensure_node_packages(name: str, dependencies: dict[str, str], *, timeout: float = 900) -> Path:
    manifest = {"name": f"mastra-test-peer-{name}", "private": True, "dependencies": dependencies}
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:12]
    folder = cache_root() / f"{name}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / ".installed"
    with open(folder / ".lock", "w") as lock:
        # Several test processes may ask at once; one installs, the others wait.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            (folder / "package.json").write_text(json.dumps(manifest, indent=2))
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                check=True,
                timeout=timeout,
            )
            marker.write_text("ok")
    return folder


def mastra_core_folder() -> Path:
    """A cache folder whose ``node_modules`` holds ``@mastra/core`` at :data:`MASTRA_CORE_VERSION`.

    Scripts that import it must live in this folder (ESM resolves packages relative to the
    importing file). The package declares Node >= 22.13; its ``auth/ee`` entry point runs
    on Node 20 as well.
    """
    return ensure_node_packages("mastra-core", {"@mastra/core": MASTRA_CORE_VERSION})
