"""Harness for the real npm ``oidc-provider`` peer (tests/peer/oidc_peer.mjs): installs it
into the shared npm cache, starts it on a free loopback port, and drives its dev
login/consent forms like a browser would."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from joserfc.jwk import RSAKey
from mastra.core.testing.node import ensure_node_packages, node_available
from mastra.core.testing.servers import free_port

PEER_SCRIPT = Path(__file__).parent / "peer" / "oidc_peer.mjs"
OIDC_PROVIDER_VERSION = "9.13.3"


def peer_folder() -> Path:
    if not node_available():
        if os.environ.get("CI"):
            pytest.fail("node/npm not installed")
        pytest.skip("node/npm not installed")
    return ensure_node_packages("oidc-provider", {"oidc-provider": OIDC_PROVIDER_VERSION})


def new_signing_key(kid: str) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return key.as_dict(private=True)


class OIDCPeer:
    def __init__(self, clients: list[dict[str, Any]], *, kid: str = "key-1") -> None:
        self.folder = peer_folder()
        self.script = self.folder / "oidc_peer.mjs"
        shutil.copyfile(PEER_SCRIPT, self.script)  # ESM resolves packages next to the script
        self.port = free_port()
        self.clients = clients
        self.key = new_signing_key(kid)
        self.proc: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PORT": str(self.port),
            "PEER_JWKS": json.dumps({"keys": [self.key]}),
            "PEER_CLIENTS": json.dumps(self.clients),
            "NODE_NO_WARNINGS": "1",
        }
        self.proc = subprocess.Popen(
            ["node", str(self.script)],
            cwd=self.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY"):
                return
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("oidc-provider peer did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def rotate_key(self, kid: str) -> None:
        """Restart the peer on the same port (same issuer) signing with a new key."""
        self.stop()
        self.key = new_signing_key(kid)
        self.start()

    def set_mode(self, mode: dict[str, Any]) -> None:
        httpx.post(f"{self.issuer}/__test/mode", json=mode, timeout=10).raise_for_status()

    def __enter__(self) -> OIDCPeer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


async def browser_login(
    authorize_url: str, callback: str, *, account: str = "alice", browser: httpx.AsyncClient | None = None
) -> str:
    """Follow the IdP's redirects, submit its dev login and consent forms, and return the
    callback URL (with ``code``, ``state``, ``iss``) the IdP sends the browser to."""
    own = browser is None
    client = browser or httpx.AsyncClient()
    try:
        url = authorize_url
        for _ in range(20):
            response = await client.get(url)
            while response.status_code in (302, 303):
                location = urljoin(url, response.headers["location"])
                if location.startswith(callback):
                    return location
                url = location
                response = await client.get(url)
            assert response.status_code == 200, response.text[:300]
            match = _FORM_ACTION.search(response.text)
            assert match, response.text[:300]
            action = urljoin(url, match.group(1))
            if 'name="login"' in response.text:
                form = {"prompt": "login", "login": account, "password": "any"}
            else:
                form = {"prompt": "consent"}
            response = await client.post(action, data=form)
            assert response.status_code in (302, 303), response.text[:300]
            url = urljoin(action, response.headers["location"])
            if url.startswith(callback):
                return url
        raise AssertionError("login did not reach the callback")
    finally:
        if own:
            await client.aclose()


async def client_credentials_token(peer: OIDCPeer, client_id: str, client_secret: str, resource: str) -> str:
    """A real RFC 9068 access token (``typ: at+jwt``) for ``resource``: the client
    credentials grant of a confidential client registered with the peer (scope ``api``)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{peer.issuer}/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "resource": resource,
                "scope": "api",
            },
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
