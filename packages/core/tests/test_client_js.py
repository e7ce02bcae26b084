"""The published ``@mastra/client-js`` (``MastraClient``) in Node against a real server (issue #11).

``peer/client_js_calls.mjs`` makes the calls and prints each result; one Node process per
test. The client's only auth method is ``getPermissionPatterns()``; the other auth routes
(``/auth/me``, ``/auth/capabilities``) and a protected one (``/audit``) go through its
generic ``request()``, i.e. its own transport: ``apiPrefix``, headers, error parsing.
Node's ``fetch`` keeps no cookies: the cookie is passed as a header, as a server-side
caller would.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastra.core.testing.node import mastra_client_js_folder, node_available
from mastra.core.testing.reference import reference_app, reference_settings
from mastra.core.testing.servers import BackgroundServer

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).parent / "peer" / "client_js_calls.mjs"
PASSWORD = "correct horse battery"

ME = ["request", "/auth/me"]
CAPABILITIES = ["request", "/auth/capabilities"]
PATTERNS = ["getPermissionPatterns"]
AUDIT = ["request", "/audit?limit=1"]  # protected: audit:read
LOGOUT = ["request", "/auth/logout", {"method": "POST"}]


@dataclass
class Server:
    url: str
    app: Any
    owner_cookie: str
    owner_id: str
    viewer_id: str

    @property
    def reference(self) -> Any:
        return self.app.state.mastra_ee.auth.user


def _credentials(url: str, action: str, email: str) -> httpx.Response:
    with httpx.Client(base_url=url, headers={"origin": url}, timeout=30) as client:
        body = {"email": email, "password": PASSWORD, "name": email}
        response = client.post(f"/api/auth/credentials/{action}", json=body)
    assert response.is_success, response.text
    return response


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not node_available():
        if os.environ.get("CI"):
            pytest.fail("node/npm not installed")
        pytest.skip("node/npm not installed")
    db = tmp_path_factory.mktemp("client-js") / "api.db"
    app = reference_app(reference_settings(f"sqlite+aiosqlite:///{db}"))
    with BackgroundServer(app, lifespan="on") as running:
        owner = _credentials(running.url, "sign-up", "owner@example.com")
        viewer = _credentials(running.url, "sign-up", "viewer@example.com")
        signed_in = _credentials(running.url, "sign-in", "owner@example.com")
        assert "token" not in signed_in.json()  # the cookie session owns it: no token in the body
        cookie = "; ".join(f"{name}={value}" for name, value in signed_in.cookies.items())
        yield Server(running.url, app, cookie, owner.json()["user"]["id"], viewer.json()["user"]["id"])


def client_js(server: Server, headers: dict[str, str], *calls: list[Any]) -> list[dict[str, Any]]:
    folder = mastra_client_js_folder()
    script = folder / SCRIPT.name
    shutil.copyfile(SCRIPT, script)  # ESM resolves packages next to the script
    request = {"baseUrl": server.url, "headers": headers, "calls": list(calls)}
    done = subprocess.run(
        ["node", str(script)],
        cwd=folder,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    if os.environ.get("MASTRA_TEST_PRINT_CALLS"):
        for call, result in zip(calls, results, strict=True):
            shown = (
                result.get("value") if result["ok"] else {"status": result["status"], "body": result["body"]}
            )
            print(json.dumps(call), "->", json.dumps(shown)[:160])
    return results


def _value(result: dict[str, Any]) -> Any:
    assert result["ok"], result
    return result["value"]


def _refused(result: dict[str, Any], status: int) -> dict[str, Any]:
    assert not result["ok"] and result["status"] == status, result
    body: dict[str, Any] = result["body"]
    assert body["error"] and body["message"], body  # every error body carries both
    return body


def _bearer(server: Server, user_id: str) -> dict[str, str]:
    # A user provider's own bearer token; ``mk_`` is the api_keys slot's (test_client_js_api_keys).
    token = "ref_" + secrets.token_urlsafe(24)
    server.reference.add_api_key(token, user_id)
    return {"Authorization": f"Bearer {token}"}


def test_with_the_session_cookie(server: Server) -> None:
    patterns, me, caps, audit, logout = client_js(
        server, {"Cookie": server.owner_cookie}, PATTERNS, ME, CAPABILITIES, AUDIT, LOGOUT
    )
    assert "agents:read" in _value(patterns)["patterns"]
    assert _value(me)["email"] == "owner@example.com"
    assert _value(caps)["user"]["email"] == "owner@example.com"
    assert _value(caps)["access"]["roles"] == ["owner"]
    assert _value(audit)["events"]
    # A cookie-carrying state change without Origin is refused (CSRF, SPEC 9.2): a
    # server-side caller signs out with its bearer token or sends the Origin itself.
    _refused(logout, 403)


def test_with_a_bearer_token(server: Server) -> None:
    patterns, me, caps, audit = client_js(
        server, _bearer(server, server.owner_id), PATTERNS, ME, CAPABILITIES, AUDIT
    )
    assert "agents:read" in _value(patterns)["patterns"]
    assert _value(me)["id"] == server.owner_id
    assert _value(caps)["access"]["roles"] == ["owner"]
    assert _value(audit)["events"]


def test_permissions_and_anonymous_calls(server: Server) -> None:
    # One client without credentials; the viewer's and a bad token ride on single calls.
    viewer = {"headers": _bearer(server, server.viewer_id)}
    bad = {"headers": {"Authorization": "Bearer not-a-key"}}
    me, audit, patterns, viewer_audit, bad_me, bad_audit = client_js(
        server, {}, ME, AUDIT, PATTERNS, [*AUDIT, viewer], [*ME, bad], [*AUDIT, bad]
    )
    assert _value(me) is None  # SPEC 9: /auth/me is public, null when unauthenticated
    _refused(audit, 401)
    _refused(patterns, 401)
    _refused(viewer_audit, 403)
    assert _value(bad_me) is None
    _refused(bad_audit, 401)
