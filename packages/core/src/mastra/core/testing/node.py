"""Install npm test peers into a cache folder shared between runs.

``ensure_node_packages("better-auth", {"better-auth": "1.7.25", "better-sqlite3": "^12"})``
returns a folder with ``node_modules``; the folder name hashes the package list,
so a changed list installs afresh. better-sqlite3 compiles (~100 s) once per cache.
``mastra_core_folder()`` installs the reference ``@mastra/core`` the differential
permission tests compare against; ``mastra_studio_folder()`` the npm ``mastra`` CLI
whose ``dist/studio`` is the reference Studio; ``mastra_client_js_folder()`` the
reference ``@mastra/client-js``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "MASTRA_CLIENT_JS_VERSION",
    "MASTRA_CORE_VERSION",
    "MASTRA_STUDIO_VERSION",
    "cache_root",
    "ensure_node_packages",
    "mastra_client_js_folder",
    "mastra_core_folder",
    "mastra_studio_folder",
    "mastra_studio_html",
    "mastra_studio_routes",
    "node_available",
]

#: The published reference whose permission vocabulary and matcher SPEC 4.4 follows.
MASTRA_CORE_VERSION = "1.68.0"
#: The npm ``mastra`` CLI shipping the reference Studio (``dist/studio``).
MASTRA_STUDIO_VERSION = "1.31.0"
#: The reference HTTP client, ``MastraClient``.
MASTRA_CLIENT_JS_VERSION = "1.47.0"


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


def mastra_studio_folder() -> Path:
    """The reference Studio: ``node_modules/mastra/dist/studio`` at :data:`MASTRA_STUDIO_VERSION`.

    The static single-page app is served as is; the ``mastra`` CLI (``mastra studio``)
    only fills the ``%%MASTRA_*%%`` placeholders of its ``index.html``.
    """
    folder = ensure_node_packages("mastra-studio", {"mastra": MASTRA_STUDIO_VERSION})
    return folder / "node_modules" / "mastra" / "dist" / "studio"


def mastra_studio_html(studio: Path, *, api_url: str, api_prefix: str = "/api") -> str:
    """The Studio's ``index.html`` as ``mastra studio --server-host … --server-port …``
    fills it (``createServer`` in the CLI's ``dist/index.js``): the Studio calls
    ``<api_url><api_prefix>``; placeholders the CLI fills from unset variables stay empty."""
    server = urlsplit(api_url)
    values = {
        "MASTRA_STUDIO_BASE_PATH": "",
        "MASTRA_SERVER_HOST": server.hostname or "localhost",
        "MASTRA_SERVER_PORT": str(server.port or (443 if server.scheme == "https" else 80)),
        "MASTRA_SERVER_PROTOCOL": server.scheme,
        "MASTRA_API_PREFIX": api_prefix,
        "MASTRA_EXPERIMENTAL_FEATURES": "false",
        "MASTRA_TEMPLATES": "false",
        "MASTRA_TELEMETRY_DISABLED": "true",
        "MASTRA_AGENT_SIGNALS": "true",
        "MASTRA_SIGNALS_UI": "false",
        "MASTRA_EXPERIMENTAL_UI": "false",
    }
    html = (studio / "index.html").read_text()
    for name, value in values.items():
        html = html.replace(f"%%{name}%%", value)
    return re.sub(r"%%MASTRA_[A-Z_]+%%", "", html)


def mastra_studio_routes(*, api_url: str, api_prefix: str = "/api") -> list[Any]:
    """Starlette routes serving the reference Studio at ``/`` as ``mastra studio`` does:
    ``/assets`` static, every other path the filled ``index.html`` (client-side routing).
    Put them after the host's own routes (the last one is a catch-all)."""
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    studio = mastra_studio_folder()
    html = mastra_studio_html(studio, api_url=api_url, api_prefix=api_prefix)

    async def refresh_events(request: Request) -> Response:
        # The dev server's reload channel (index.html opens it): "connected", then a long retry.
        return Response("retry: 600000\ndata: connected\n\n", media_type="text/event-stream")

    async def index(request: Request) -> Response:
        return HTMLResponse(html)

    return [
        Route("/refresh-events", refresh_events),
        Mount("/assets", StaticFiles(directory=studio / "assets")),
        Route("/{path:path}", index),
    ]


def mastra_client_js_folder() -> Path:
    """A cache folder whose ``node_modules`` holds ``@mastra/client-js`` at
    :data:`MASTRA_CLIENT_JS_VERSION`; scripts importing it must live in this folder."""
    return ensure_node_packages(
        "mastra-client-js", {"@mastra/client-js": MASTRA_CLIENT_JS_VERSION, "zod": "^4"}
    )
