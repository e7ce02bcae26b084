"""Runs the real Better Auth 1.7.25 (npm) on loopback for the interop tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from mastra.core.testing.node import ensure_node_packages, node_available
from mastra.core.testing.servers import free_port

BETTER_AUTH_VERSION = "1.7.25"
PEER_SCRIPT = Path(__file__).parent / "peer" / "server.mjs"


def peer_folder() -> Path:
    if not node_available():
        if os.environ.get("CI"):
            pytest.fail("Node.js/npm not installed")
        pytest.skip("Node.js/npm not installed")
    folder = ensure_node_packages(
        "better-auth", {"better-auth": BETTER_AUTH_VERSION, "better-sqlite3": "^12"}
    )
    # ESM resolves packages relative to the script, so the script lives next to node_modules.
    shutil.copyfile(PEER_SCRIPT, folder / "mastra-peer-server.mjs")
    return folder


class BetterAuthNode:
    """``with BetterAuthNode(db_path, secret) as node: node.base_url``."""

    def __init__(
        self, db_path: Path, secret: str, *, trusted: tuple[str, ...] = (), migrate: bool = True
    ) -> None:
        self.folder = peer_folder()
        self.db_path = db_path
        self.secret = secret
        self.trusted = trusted
        self.migrate = migrate
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/auth"

    def __enter__(self) -> BetterAuthNode:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "BA_DB": str(self.db_path),
            "BA_PORT": str(self.port),
            "BA_SECRET": self.secret,
            "BA_TRUSTED": ",".join(self.trusted),
            "BA_MIGRATE": "1" if self.migrate else "0",
        }
        self.log = open(self.db_path.with_suffix(".node.log"), "wb")
        self.process = subprocess.Popen(
            ["node", "mastra-peer-server.mjs"], cwd=self.folder, env=env, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "Better Auth peer exited: " + self.db_path.with_suffix(".node.log").read_text()
                )
            try:
                if httpx.get(f"{self.origin}/__test/health", timeout=0.5, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("Better Auth peer did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()

    # -- test helpers -------------------------------------------------------------------

    def post(self, path: str, json: dict, cookie: str | None = None) -> httpx.Response:
        headers = {"origin": self.origin}
        if cookie:
            headers["cookie"] = cookie
        return httpx.post(self.base_url + path, json=json, headers=headers, timeout=10, trust_env=False)

    def get(self, path: str, cookie: str | None = None) -> httpx.Response:
        headers = {"cookie": cookie} if cookie else {}
        return httpx.get(self.base_url + path, headers=headers, timeout=10, trust_env=False)

    def outbox(self) -> list[dict]:
        return httpx.get(f"{self.origin}/__test/outbox", timeout=5, trust_env=False).json()
